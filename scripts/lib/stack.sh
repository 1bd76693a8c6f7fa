# Sourced by scripts/run-stack and scripts/run-cluster: what starting Permiso in the foreground
# needs whatever its shape. The caller sets PERMISO_DATA_DIR (private, created here) and
# PERMISO_ENV, and may define on_stop (run once when the stack stops, after every process).

source "$(dirname "${BASH_SOURCE[0]}")/front-door.sh"

mkdir -p "$PERMISO_DATA_DIR"
chmod 700 "$PERMISO_DATA_DIR"
# The services believe X-Forwarded-For/-Proto/-Host from the front door's address only.
export PERMISO_TRUSTED_PROXIES=${PERMISO_TRUSTED_PROXIES:-$FRONT_DOOR_PROXY_ADDR}

# A secret kept in the data dir: generated once (0600), read on every later run. Never printed.
stored_secret() {
  local file="$PERMISO_DATA_DIR/$1"
  if [ ! -s "$file" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# mt5-api reads permiso-auth's revocation feed as the service client mt5-service, which
# permiso-auth ensures from this secret at start-up.
if [ -z "${MT5_SERVICE_CLIENT_SECRET:-}" ]; then
  MT5_SERVICE_CLIENT_SECRET=$(stored_secret mt5-service-client.secret)
fi
export MT5_SERVICE_CLIENT_SECRET
# The development profile signs with HS256: every service needs the same key, so it is
# generated here (once) instead of inside permiso-auth's key store, which mt5-api cannot read.
if [ -z "${JWT_SECRET_KEY:-}" ] && { [ -z "${JWT_ALGORITHM:-}" ] || [ "${JWT_ALGORITHM}" = HS256 ]; } &&
  [ "$PERMISO_ENV" = development ]; then
  JWT_SECRET_KEY=$(stored_secret jwt-hs256.secret)
  export JWT_SECRET_KEY
fi

pids=()
pid_names=()
stop_all() {
  trap - INT TERM
  # Reverse order of start: the front door first, then the gateway, then what it depends on.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  stop_front_door
  if declare -F on_stop >/dev/null; then on_stop; fi
  echo "Permiso stopped."
  exit "${1:-0}"
}
trap stop_all INT TERM

# started NAME PID: remember a process to stop (and watch).
started() {
  pid_names+=("$1")
  pids+=("$2")
}

# wait_healthy NAME PID URL: GET URL/health answers within 20 s, or the stack stops.
wait_healthy() {
  for _ in $(seq 1 200); do
    if curl -fsS "$3/health" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$1 exited during start-up (see its output above)." >&2
      stop_all 1
    fi
    sleep 0.1
  done
  echo "$1 did not become healthy at $3/health within 20 s." >&2
  stop_all 1
}

# wait_listening NAME PID PORT: something accepts TCP connections on 127.0.0.1:PORT within
# 20 s (a server without an HTTP health check, e.g. mt5-sim's FIX acceptor), or the stack stops.
wait_listening() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$3") 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$1 exited during start-up (see its output above)." >&2
      stop_all 1
    fi
    sleep 0.1
  done
  echo "$1 did not listen on 127.0.0.1:$3 within 20 s." >&2
  stop_all 1
}

# front_door AUTH_UPSTREAMS MT5_UPSTREAMS: nginx in front, healthy, or the stack stops. Sets
# front_line, the line that describes it.
front_door() {
  start_front_door "$1" "$2"
  front_line="  (no front door: nginx is not installed)"
  [ -n "$FRONT_DOOR_PID" ] || return 0
  started nginx "$FRONT_DOOR_PID"
  if ! wait_front_door; then
    echo "nginx did not answer at $FRONT_DOOR_HTTPS_URL/health within 10 s (see its output above)." >&2
    stop_all 1
  fi
  front_line="  front door    $FRONT_DOOR_HTTPS_URL  (and $FRONT_DOOR_HTTP_URL; trust $FRONT_DOOR_TLS_DIR/ca.pem)"
}

# watch MODE: wait for a signal. MODE=all stops the stack when any process exits; MODE=survive
# (a cluster) only reports it, unless it was the front door.
watch() {
  local reported=()
  while :; do
    for i in "${!pids[@]}"; do
      kill -0 "${pids[$i]}" 2>/dev/null && continue
      if [ "$1" = all ] || [ "${pid_names[$i]}" = nginx ]; then
        echo "${pid_names[$i]} exited; stopping the stack." >&2
        stop_all 1
      fi
      if [ -z "${reported[$i]:-}" ]; then
        echo "${pid_names[$i]} exited; the others keep serving." >&2
        reported[$i]=1
      fi
    done
    sleep 1 &
    wait $! || true
  done
}
