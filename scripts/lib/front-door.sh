# Sourced by scripts/run-stack and scripts/run-cluster: nginx in front of the services on
# loopback, rendered from deploy/nginx with the development TLS of scripts/dev-tls.
#
#   start_front_door AUTH_UPSTREAMS MT5_UPSTREAMS   (comma lists of host:port)
#
# Reads PERMISO_DATA_DIR, PERMISO_ENV and, when set, PERMISO_TLS_DIR [$PERMISO_DATA_DIR/tls],
# PERMISO_EDGE_HTTP_PORT [8080],
# PERMISO_EDGE_HTTPS_PORT [8443] and every variable deploy/nginx/render takes. Sets
# FRONT_DOOR_PID (the nginx master, in the foreground of this shell's job) and
# FRONT_DOOR_HTTP_URL / FRONT_DOOR_HTTPS_URL; FRONT_DOOR_PID stays empty when nginx is missing.
# The configuration is kept in $PERMISO_DATA_DIR/frontdoor (and its access log); temporary
# files and the pages it serves live in a runtime directory removed by stop_front_door.

# nginx connects to the services from this loopback address, and only it is a trusted proxy:
# a local client talking to the services directly from 127.0.0.1 cannot claim another address.
FRONT_DOOR_PROXY_ADDR=${FRONT_DOOR_PROXY_ADDR:-127.0.0.2}
FRONT_DOOR_PID=
FRONT_DOOR_RUNTIME=

start_front_door() {
  local auth_upstreams=$1 mt5_upstreams=$2
  if ! command -v nginx >/dev/null 2>&1; then
    echo "front door: nginx is not installed (make bootstrap installs it); serving the services directly." >&2
    return 0
  fi
  local repo http_port https_port conf_dir dashboard
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  http_port=${PERMISO_EDGE_HTTP_PORT:-8080}
  https_port=${PERMISO_EDGE_HTTPS_PORT:-8443}
  conf_dir="$PERMISO_DATA_DIR/frontdoor"
  mkdir -p "$conf_dir"
  FRONT_DOOR_TLS_DIR=${PERMISO_TLS_DIR:-$PERMISO_DATA_DIR/tls}
  "$repo/scripts/dev-tls" "$FRONT_DOOR_TLS_DIR"

  # The workers read the pages and write temporary files: a world-readable runtime directory
  # (the data dir is private). As root they run as nobody, never as root.
  FRONT_DOOR_RUNTIME=$(mktemp -d "${TMPDIR:-/tmp}/permiso-frontdoor.XXXXXX")
  chmod 755 "$FRONT_DOOR_RUNTIME"
  dashboard="$repo/web/dist"
  [ -f "$dashboard/index.html" ] || dashboard="$repo/deploy/nginx/www"
  cp -R "$dashboard" "$FRONT_DOOR_RUNTIME/www"
  chmod -R a+rX "$FRONT_DOOR_RUNTIME/www"
  local user=""
  if [ "$(id -u)" = 0 ]; then
    user="nobody $(id -gn nobody 2>/dev/null || echo nogroup)"
    for d in client_body proxy fastcgi uwsgi scgi; do
      mkdir -p "$FRONT_DOOR_RUNTIME/$d" && chown nobody "$FRONT_DOOR_RUNTIME/$d"
    done
  fi

  PERMISO_ENV=${PERMISO_ENV:-development} \
    PERMISO_SERVER_NAME=${PERMISO_SERVER_NAME:-localhost} \
    PERMISO_HTTP_LISTEN="127.0.0.1:$http_port" \
    PERMISO_HTTPS_LISTEN="127.0.0.1:$https_port" \
    PERMISO_TLS_CERT="$FRONT_DOOR_TLS_DIR/server.pem" \
    PERMISO_TLS_KEY="$FRONT_DOOR_TLS_DIR/server.key" \
    PERMISO_AUTH_UPSTREAMS="$auth_upstreams" \
    MT5_API_UPSTREAMS="$mt5_upstreams" \
    DASHBOARD_ROOT="$FRONT_DOOR_RUNTIME/www" \
    NGINX_USER="${NGINX_USER:-$user}" \
    NGINX_WORKER_PROCESSES="${NGINX_WORKER_PROCESSES:-2}" \
    NGINX_PROXY_BIND="$FRONT_DOOR_PROXY_ADDR" \
    NGINX_ACCESS_LOG="${NGINX_ACCESS_LOG:-$conf_dir/access.log}" \
    "$repo/deploy/nginx/render" --out "$conf_dir" --runtime-dir "$FRONT_DOOR_RUNTIME" >/dev/null
  nginx -t -q -p "$FRONT_DOOR_RUNTIME" -c "$conf_dir/nginx.conf" -e stderr
  nginx -p "$FRONT_DOOR_RUNTIME" -c "$conf_dir/nginx.conf" -e stderr -g "daemon off;" &
  FRONT_DOOR_PID=$!
  FRONT_DOOR_HTTP_URL="http://127.0.0.1:$http_port"
  FRONT_DOOR_HTTPS_URL="https://127.0.0.1:$https_port"
}

# wait_front_door: its /health answers over HTTPS within 10 s (0), or not (1).
wait_front_door() {
  [ -n "$FRONT_DOOR_PID" ] || return 0
  for _ in $(seq 1 100); do
    if curl -fsS --cacert "$FRONT_DOOR_TLS_DIR/ca.pem" "$FRONT_DOOR_HTTPS_URL/health" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$FRONT_DOOR_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop_front_door() {
  [ -n "$FRONT_DOOR_RUNTIME" ] && rm -rf "$FRONT_DOOR_RUNTIME"
  FRONT_DOOR_RUNTIME=
}
