// PermisoBridge.mq5: the MetaTrader 5 side of the PermisoBridge protocol, version 1
// (docs/brokers.md, "The protocol"). It serves this terminal's account to mt5-api over ZeroMQ:
//   - a REP socket (CommandEndpoint) answers each JSON command with exactly one JSON reply:
//     hello, account_open, account_info, symbols, symbol, tick, order_send, positions, orders,
//     history_deals, rates;
//   - a PUB socket (EventEndpoint) sends "<topic> <json>" frames: tick, trade, heartbeat.
// Everything runs on the terminal's timer and trade events, single-threaded: one command is read,
// executed and answered at a time. Needs libzmq.dll (64-bit, 4.3.x) in MQL5\Libraries and
// "Allow DLL imports". Installation and limits: connectors/mt5-terminal/README.md.
#property copyright   "Permiso"
#property version     "1.00"
#property description "PermisoBridge: serves this terminal's account to mt5-api over ZeroMQ (protocol v1)."

input string CommandEndpoint = "tcp://127.0.0.1:5555"; // REP socket: commands from mt5-api
input string EventEndpoint   = "tcp://127.0.0.1:5556"; // PUB socket: ticks, trades, heartbeats
input string AuthToken       = "";                     // = MT5_TERMINAL_TOKEN (empty: demo accounts only)

#define PROTOCOL_VERSION       1
#define MAX_COMMANDS_PER_TIMER 64     // bounds one timer event, so ticks and heartbeats keep flowing
#define RX_BUFFER_SIZE         65536  // commands are small flat objects; a larger one is refused
#define HEARTBEAT_MS           1000
#define MONEY_DIGITS           8      // money and volumes: 8 decimals, trailing zeros trimmed
#define VOLUME_DIGITS          8
#define MAX_RATES              1000   // bars one rates reply carries (about 100 bytes each)

// ---- libzmq: only the C functions used (64-bit DLL: pointers are long, size_t is ulong) ----
#define ZMQ_PUB      1
#define ZMQ_REP      4
#define ZMQ_LINGER   17
#define ZMQ_DONTWAIT 1
#define ZMQ_EAGAIN   11   // EAGAIN as the Windows C runtime, and so libzmq.dll, numbers it

#import "libzmq.dll"
long zmq_ctx_new();
int  zmq_ctx_term(long context);
long zmq_socket(long context, int type);
int  zmq_close(long socket);
int  zmq_bind(long socket, const uchar &endpoint[]);
int  zmq_setsockopt(long socket, int option, const int &value, ulong size);
int  zmq_send(long socket, const uchar &buffer[], ulong length, int flags);
int  zmq_recv(long socket, uchar &buffer[], ulong length, int flags);
int  zmq_errno();
#import

long   g_context = 0;
long   g_commands = 0;         // REP
long   g_events = 0;           // PUB
uchar  g_rx[];
ulong  g_sequence = 0;         // Changes.sequence: one step per changes message, counting up
ulong  g_lastHeartbeat = 0;
string g_tickNames[];          // Market Watch by index, as last scanned
long   g_tickTimes[];          // time_msc of the last tick published for that symbol

// ---- terminal and account facts ----

long TerminalLogin() { return AccountInfoInteger(ACCOUNT_LOGIN); }
bool TradeServerConnected() { return TerminalInfoInteger(TERMINAL_CONNECTED) != 0; }

// ACCOUNT_TRADE_MODE_DEMO is 0, which is also what an account not loaded yet reports: a known
// login is required before the account counts as demo.
bool IsDemoAccount() {
   return TerminalLogin() != 0 && AccountInfoInteger(ACCOUNT_TRADE_MODE) == ACCOUNT_TRADE_MODE_DEMO;
}

bool TradingPermitted() {
   return TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0 && MQLInfoInteger(MQL_TRADE_ALLOWED) != 0
          && AccountInfoInteger(ACCOUNT_TRADE_EXPERT) != 0;
}

// The symbol's price digits; 8 when the symbol is unknown (balance deals have none).
int PriceDigits(const string symbol) {
   long digits = 0;
   if(symbol == "" || !SymbolInfoInteger(symbol, SYMBOL_DIGITS, digits)) return 8;
   if(digits < 0) digits = 0;
   if(digits > 16) digits = 16;   // DoubleToString's limit
   return (int)digits;
}

bool InMarketWatch(const string symbol) {
   long selected = 0;
   return symbol != "" && SymbolInfoInteger(symbol, SYMBOL_SELECT, selected) && selected != 0;
}

// The model knows DEAL_REASON_CLIENT..DEAL_REASON_SO (0..6) and POSITION_REASON 0..3; ROLLOVER,
// VMARGIN, SPLIT, CORPORATE_ACTION and anything newer are sent as 0 (client) so rows still decode.
long ClampReason(long reason) { return (reason >= 0 && reason <= 6) ? reason : 0; }
bool IsPendingType(ENUM_ORDER_TYPE type) { return type >= ORDER_TYPE_BUY_LIMIT && type <= ORDER_TYPE_SELL_STOP_LIMIT; }

// ---- time: the trade server's clock inside the terminal, UTC on the wire ----
// MT5 stamps ticks, deals, orders and positions with the trade server's clock, which brokers set
// to their own zone (often GMT+2 or GMT+3). The protocol carries UTC: every time leaves through
// UtcMsc, and every time in a command enters through ServerMsc.

// TimeTradeServer() - TimeGMT(), rounded to a quarter hour: zones are whole quarter hours, and the
// two clocks are read a moment apart (TimeTradeServer is the terminal's estimate of the server's).
long ServerUtcOffsetSeconds() {
   long raw = (long)TimeTradeServer() - (long)TimeGMT();
   return (long)MathRound(raw / 900.0) * 900;
}

// 0 stays 0: it is MT5's "not set" (a pending order's ORDER_TIME_DONE_MSC), and "from the start".
long UtcMsc(long serverMsc)  { return serverMsc == 0 ? 0 : serverMsc - ServerUtcOffsetSeconds() * 1000; }
long ServerMsc(long utcMsc)  { return utcMsc == 0 ? 0 : utcMsc + ServerUtcOffsetSeconds() * 1000; }

// ---- JSON writing ----

string JsonEscape(const string s) {
   string out = "";
   int n = StringLen(s);
   for(int i = 0; i < n; i++) {
      ushort c = StringGetCharacter(s, i);
      if(c == '\"')      out += "\\\"";
      else if(c == '\\') out += "\\\\";
      else if(c == '\n') out += "\\n";
      else if(c == '\r') out += "\\r";
      else if(c == '\t') out += "\\t";
      else if(c < 0x20)  out += StringFormat("\\u%04x", c);
      else               out += ShortToString(c);   // UTF-8 happens once, when the frame is sent
   }
   return out;
}

// A double as JSON: never nan or inf (JSON has neither), trailing zeros trimmed, but always with a
// fractional part, so a reader that checks types sees a double and not an integer.
string JsonDouble(double x, int digits) {
   if(!MathIsValidNumber(x)) return "0.0";
   string s = DoubleToString(x, digits);
   if(StringFind(s, ".") < 0) return s + ".0";
   int n = StringLen(s);
   while(StringGetCharacter(s, n - 1) == '0') n--;
   if(StringGetCharacter(s, n - 1) == '.') n++;
   return StringSubstr(s, 0, n);
}

// Object members: each helper writes `"key":value,`; Obj() wraps them and drops the last comma.
string KS(const string key, const string v)   { return "\"" + key + "\":\"" + JsonEscape(v) + "\","; }
string KI(const string key, long v)           { return "\"" + key + "\":" + IntegerToString(v) + ","; }
string KD(const string key, double v, int d)  { return "\"" + key + "\":" + JsonDouble(v, d) + ","; }
string KB(const string key, bool v)           { return "\"" + key + "\":" + (v ? "true" : "false") + ","; }
string KR(const string key, const string raw) { return "\"" + key + "\":" + raw + ","; }
string Obj(const string members) { return "{" + StringSubstr(members, 0, StringLen(members) - 1) + "}"; }

void Append(string &list, const string item) {
   if(item == "") return;
   if(list != "") list += ",";
   list += item;
}

// ---- JSON reading: one flat object (requests have no nesting) ----
#define JV_STRING  1
#define JV_NUMBER  2
#define JV_LITERAL 3   // true, false, null

struct Arg { string key, value; int kind; };   // value: strings unescaped; numbers and literals as written
Arg    g_args[];
int    g_argCount = 0;
string g_text;
int    g_pos = 0, g_len = 0;

ushort Peek() { return g_pos < g_len ? StringGetCharacter(g_text, g_pos) : 0; }

void SkipSpace() {
   while(g_pos < g_len && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) g_pos++;
}

int HexValue(ushort c) {
   if(c >= '0' && c <= '9') return c - '0';
   if(c >= 'a' && c <= 'f') return c - 'a' + 10;
   if(c >= 'A' && c <= 'F') return c - 'A' + 10;
   return -1;
}

bool ReadString(string &out) {
   if(Peek() != '\"') return false;
   g_pos++;
   out = "";
   while(g_pos < g_len) {
      ushort c = StringGetCharacter(g_text, g_pos++);
      if(c == '\"') return true;
      if(c < 0x20) return false;
      if(c != '\\') { out += ShortToString(c); continue; }
      if(g_pos >= g_len) return false;
      ushort e = StringGetCharacter(g_text, g_pos++);
      if(e == '\"' || e == '\\' || e == '/') out += ShortToString(e);
      else if(e == 'n') out += "\n";
      else if(e == 't') out += "\t";
      else if(e == 'r') out += "\r";
      else if(e == 'b') out += ShortToString(8);
      else if(e == 'f') out += ShortToString(12);
      else if(e == 'u') {
         if(g_pos + 4 > g_len) return false;
         int code = 0;
         for(int k = 0; k < 4; k++) {
            int h = HexValue(StringGetCharacter(g_text, g_pos++));
            if(h < 0) return false;
            code = code * 16 + h;
         }
         // MQL5 strings are UTF-16: a surrogate pair arrives as two \u escapes and is kept as is.
         out += ShortToString((ushort)code);
      } else return false;
   }
   return false;
}

string TakeWhile(const string allowed) {
   int start = g_pos;
   while(g_pos < g_len && StringFind(allowed, ShortToString(Peek())) >= 0) g_pos++;
   return StringSubstr(g_text, start, g_pos - start);
}

bool ReadMember() {
   string key = "", value = "";
   int kind = 0;
   SkipSpace();
   if(!ReadString(key)) return false;
   SkipSpace();
   if(Peek() != ':') return false;
   g_pos++;
   SkipSpace();
   ushort c = Peek();
   if(c == '\"') {
      if(!ReadString(value)) return false;
      kind = JV_STRING;
   } else if(c == '-' || (c >= '0' && c <= '9')) {
      value = TakeWhile("0123456789+-.eE");
      kind = JV_NUMBER;
   } else if(c == 't' || c == 'f' || c == 'n') {
      value = TakeWhile("truefalsn");
      if(value != "true" && value != "false" && value != "null") return false;
      kind = JV_LITERAL;
   } else return false;   // an object or an array: requests are flat
   ArrayResize(g_args, g_argCount + 1, 16);
   g_args[g_argCount].key = key;
   g_args[g_argCount].value = value;
   g_args[g_argCount++].kind = kind;
   return true;
}

bool ParseFlatObject(const string text) {
   g_text = text;
   g_pos = 0;
   g_len = StringLen(text);
   g_argCount = 0;
   SkipSpace();
   if(Peek() != '{') return false;
   g_pos++;
   SkipSpace();
   bool more = Peek() != '}';
   if(!more) g_pos++;   // {}
   while(more) {
      if(!ReadMember()) return false;
      SkipSpace();
      ushort c = Peek();
      g_pos++;
      if(c == '}') more = false;
      else if(c != ',') return false;
   }
   SkipSpace();
   return g_pos == g_len;
}

// The member's index, or -1 when it is missing or of another kind (a wrong type counts as missing).
int FindArg(const string key, int kind) {
   for(int i = 0; i < g_argCount; i++)
      if(g_args[i].key == key) return g_args[i].kind == kind ? i : -1;
   return -1;
}

bool HasArg(const string key, int kind) { return FindArg(key, kind) >= 0; }

string ArgString(const string key) {
   int i = FindArg(key, JV_STRING);
   return i >= 0 ? g_args[i].value : "";
}

// JSON numbers may carry an exponent (Boost.JSON writes 1.0846 as "1.0846E0").
double JsonToDouble(const string text) {
   int e = StringFind(text, "e");
   if(e < 0) e = StringFind(text, "E");
   if(e < 0) return StringToDouble(text);
   double mantissa = StringToDouble(StringSubstr(text, 0, e));
   string exponentText = StringSubstr(text, e + 1);
   if(StringGetCharacter(exponentText, 0) == '+') exponentText = StringSubstr(exponentText, 1);
   long exponent = StringToInteger(exponentText);
   // Divide for negative exponents: 1.0846 / 10 is correctly rounded, 1.0846 * 0.1 is not.
   if(exponent >= 0) return mantissa * MathPow(10.0, (double)exponent);
   return mantissa / MathPow(10.0, (double)-exponent);
}

bool IsIntegerText(const string t) {
   return StringFind(t, ".") < 0 && StringFind(t, "e") < 0 && StringFind(t, "E") < 0;
}

double ArgDouble(const string key) {
   int i = FindArg(key, JV_NUMBER);
   return i >= 0 ? JsonToDouble(g_args[i].value) : 0.0;
}

long ArgLong(const string key) {
   int i = FindArg(key, JV_NUMBER);
   if(i < 0) return 0;
   if(!IsIntegerText(g_args[i].value)) return (long)MathRound(JsonToDouble(g_args[i].value));
   return StringToInteger(g_args[i].value);
}

// ---- rows: the protocol's objects, as the terminal has them now ----

// margin_so_call and margin_so_so are percentages unless ACCOUNT_MARGIN_SO_MODE says money.
string AccountJson() {
   return Obj(KI("login", TerminalLogin()) + KS("name", AccountInfoString(ACCOUNT_NAME))
              + KS("server", AccountInfoString(ACCOUNT_SERVER)) + KS("currency", AccountInfoString(ACCOUNT_CURRENCY))
              + KI("leverage", AccountInfoInteger(ACCOUNT_LEVERAGE))
              + KD("balance", AccountInfoDouble(ACCOUNT_BALANCE), MONEY_DIGITS)
              + KD("credit", AccountInfoDouble(ACCOUNT_CREDIT), MONEY_DIGITS)
              + KD("profit", AccountInfoDouble(ACCOUNT_PROFIT), MONEY_DIGITS)
              + KD("equity", AccountInfoDouble(ACCOUNT_EQUITY), MONEY_DIGITS)
              + KD("margin", AccountInfoDouble(ACCOUNT_MARGIN), MONEY_DIGITS)
              + KD("margin_free", AccountInfoDouble(ACCOUNT_MARGIN_FREE), MONEY_DIGITS)
              + KD("margin_level", AccountInfoDouble(ACCOUNT_MARGIN_LEVEL), 4)
              + KD("margin_so_call", AccountInfoDouble(ACCOUNT_MARGIN_SO_CALL), 4)
              + KD("margin_so_so", AccountInfoDouble(ACCOUNT_MARGIN_SO_SO), 4)
              + KB("demo", AccountInfoInteger(ACCOUNT_TRADE_MODE) == ACCOUNT_TRADE_MODE_DEMO));
}

string SymbolJson(const string name) {
   long mode = SymbolInfoInteger(name, SYMBOL_TRADE_MODE);
   int digits = PriceDigits(name);
   return Obj(KS("name", name) + KS("description", SymbolInfoString(name, SYMBOL_DESCRIPTION))
              + KS("currency_base", SymbolInfoString(name, SYMBOL_CURRENCY_BASE))
              + KS("currency_profit", SymbolInfoString(name, SYMBOL_CURRENCY_PROFIT))
              + KS("currency_margin", SymbolInfoString(name, SYMBOL_CURRENCY_MARGIN))
              + KI("digits", digits) + KD("point", SymbolInfoDouble(name, SYMBOL_POINT), digits)
              + KD("contract_size", SymbolInfoDouble(name, SYMBOL_TRADE_CONTRACT_SIZE), VOLUME_DIGITS)
              + KD("volume_min", SymbolInfoDouble(name, SYMBOL_VOLUME_MIN), VOLUME_DIGITS)
              + KD("volume_max", SymbolInfoDouble(name, SYMBOL_VOLUME_MAX), VOLUME_DIGITS)
              + KD("volume_step", SymbolInfoDouble(name, SYMBOL_VOLUME_STEP), VOLUME_DIGITS)
              + KI("stops_level", SymbolInfoInteger(name, SYMBOL_TRADE_STOPS_LEVEL))
              + KI("calc_mode", SymbolInfoInteger(name, SYMBOL_TRADE_CALC_MODE))
              + KB("trade_allowed", mode != SYMBOL_TRADE_MODE_DISABLED && mode != SYMBOL_TRADE_MODE_CLOSEONLY));
}

string TickJson(const MqlTick &tick, int digits) {
   return Obj(KI("time_msc", UtcMsc(tick.time_msc)) + KD("bid", tick.bid, digits) + KD("ask", tick.ask, digits)
              + KD("last", tick.last, digits));
}

// The model has one commission field; MT5's per-deal fee (DEAL_FEE) is a commission too.
double DealCommission(ulong deal) {
   return HistoryDealGetDouble(deal, DEAL_COMMISSION) + HistoryDealGetDouble(deal, DEAL_FEE);
}

// The deal must be in the current history selection (HistorySelect or HistoryDealSelect).
string DealJson(ulong deal) {
   string symbol = HistoryDealGetString(deal, DEAL_SYMBOL);
   int digits = PriceDigits(symbol);
   return Obj(KI("ticket", (long)deal) + KI("login", TerminalLogin()) + KI("order", HistoryDealGetInteger(deal, DEAL_ORDER))
              + KI("position_id", HistoryDealGetInteger(deal, DEAL_POSITION_ID)) + KS("symbol", symbol)
              + KI("type", HistoryDealGetInteger(deal, DEAL_TYPE)) + KI("entry", HistoryDealGetInteger(deal, DEAL_ENTRY))
              + KI("reason", ClampReason(HistoryDealGetInteger(deal, DEAL_REASON)))
              + KD("volume", HistoryDealGetDouble(deal, DEAL_VOLUME), VOLUME_DIGITS)
              + KD("price", HistoryDealGetDouble(deal, DEAL_PRICE), digits)
              + KD("profit", HistoryDealGetDouble(deal, DEAL_PROFIT), MONEY_DIGITS)
              + KD("commission", DealCommission(deal), MONEY_DIGITS)
              + KD("swap", HistoryDealGetDouble(deal, DEAL_SWAP), MONEY_DIGITS)
              + KI("magic", HistoryDealGetInteger(deal, DEAL_MAGIC)) + KS("comment", HistoryDealGetString(deal, DEAL_COMMENT))
              + KI("time_msc", UtcMsc(HistoryDealGetInteger(deal, DEAL_TIME_MSC))));
}

// A position as its deals tell it: what a closed position is made of, and the commission of an
// open one (MT5 books commission on deals, not on the live position).
struct PositionHistory {
   string symbol, comment;
   long   type, magic, reason, closeReason, timeOpen, timeLast, timeClose;
   double volumeIn, volumeOut, valueIn, valueOut;   // value: the sum of volume * price
   double net;                                      // buys minus sells: 0 once closed
   int    exits;                                    // deals that reduced the position
   double profit, swap, commission, sl, tp;
};

bool ReadPositionHistory(ulong positionId, PositionHistory &h) {
   h.symbol = ""; h.comment = ""; h.type = 0; h.magic = 0; h.reason = 0; h.closeReason = 0;
   h.timeOpen = 0; h.timeLast = 0; h.timeClose = 0; h.volumeIn = 0; h.volumeOut = 0; h.valueIn = 0;
   h.valueOut = 0; h.net = 0; h.exits = 0; h.profit = 0; h.swap = 0; h.commission = 0; h.sl = 0; h.tp = 0;
   if(!HistorySelectByPosition((long)positionId)) return false;
   int total = HistoryDealsTotal();
   for(int i = 0; i < total; i++) {
      ulong deal = HistoryDealGetTicket(i);
      if(deal == 0) continue;
      long entry = HistoryDealGetInteger(deal, DEAL_ENTRY), type = HistoryDealGetInteger(deal, DEAL_TYPE);
      long when = HistoryDealGetInteger(deal, DEAL_TIME_MSC);
      double volume = HistoryDealGetDouble(deal, DEAL_VOLUME), price = HistoryDealGetDouble(deal, DEAL_PRICE);
      h.profit += HistoryDealGetDouble(deal, DEAL_PROFIT);
      h.swap += HistoryDealGetDouble(deal, DEAL_SWAP);
      h.commission += DealCommission(deal);
      if(when > h.timeLast) h.timeLast = when;
      if(type == DEAL_TYPE_BUY) h.net += volume;
      if(type == DEAL_TYPE_SELL) h.net -= volume;
      if(entry == DEAL_ENTRY_IN || entry == DEAL_ENTRY_INOUT) {
         if(h.timeOpen == 0 || when < h.timeOpen) {
            h.timeOpen = when;
            h.symbol = HistoryDealGetString(deal, DEAL_SYMBOL);
            h.comment = HistoryDealGetString(deal, DEAL_COMMENT);
            h.magic = HistoryDealGetInteger(deal, DEAL_MAGIC);
            h.reason = ClampReason(HistoryDealGetInteger(deal, DEAL_REASON));
         }
         h.type = type == DEAL_TYPE_SELL ? POSITION_TYPE_SELL : POSITION_TYPE_BUY;
         h.volumeIn += volume;
         h.valueIn += volume * price;
      }
      if(entry != DEAL_ENTRY_IN) h.exits++;
      if(entry == DEAL_ENTRY_OUT || entry == DEAL_ENTRY_OUT_BY) {
         h.volumeOut += volume;
         h.valueOut += volume * price;
         if(when >= h.timeClose) {
            h.timeClose = when;
            h.closeReason = ClampReason(HistoryDealGetInteger(deal, DEAL_REASON));
            h.sl = HistoryDealGetDouble(deal, DEAL_SL);   // exit deals carry the position's SL/TP at closing
            h.tp = HistoryDealGetDouble(deal, DEAL_TP);
         }
      }
   }
   return total > 0;
}

string OpenPositionJson(ulong ticket) {
   if(!PositionSelectByTicket(ticket)) return "";
   string symbol = PositionGetString(POSITION_SYMBOL);
   int digits = PriceDigits(symbol);
   string members = KI("ticket", PositionGetInteger(POSITION_TICKET)) + KI("login", TerminalLogin()) + KS("symbol", symbol)
                    + KI("type", PositionGetInteger(POSITION_TYPE))
                    + KD("volume", PositionGetDouble(POSITION_VOLUME), VOLUME_DIGITS)
                    + KD("price_open", PositionGetDouble(POSITION_PRICE_OPEN), digits)
                    + KD("price_current", PositionGetDouble(POSITION_PRICE_CURRENT), digits)
                    + KD("sl", PositionGetDouble(POSITION_SL), digits) + KD("tp", PositionGetDouble(POSITION_TP), digits)
                    + KD("profit", PositionGetDouble(POSITION_PROFIT), MONEY_DIGITS)
                    + KD("swap", PositionGetDouble(POSITION_SWAP), MONEY_DIGITS)
                    + KI("magic", PositionGetInteger(POSITION_MAGIC)) + KS("comment", PositionGetString(POSITION_COMMENT))
                    + KI("reason", ClampReason(PositionGetInteger(POSITION_REASON)))
                    + KI("time_msc", UtcMsc(PositionGetInteger(POSITION_TIME_MSC)))
                    + KI("time_update_msc", UtcMsc(PositionGetInteger(POSITION_TIME_UPDATE_MSC)));
   PositionHistory h;   // read after every PositionGet*: it replaces the history selection
   double commission = ReadPositionHistory(ticket, h) ? h.commission : 0.0;
   return Obj(members + KD("commission", commission, MONEY_DIGITS) + KB("closed", false));
}

// "" unless the deals show the position closed (net volume 0 after an exit): right after a deal
// the terminal may not list a new position yet, and an open position must never be sent as
// closed. Prices are volume-weighted; after a netting reversal (DEAL_ENTRY_INOUT) volume and
// price_open count the reversing deal whole, an approximation.
string ClosedPositionJson(ulong positionId) {
   PositionHistory h;
   if(!ReadPositionHistory(positionId, h) || h.exits == 0 || MathAbs(h.net) > 1e-8) return "";
   int digits = PriceDigits(h.symbol);
   double openPrice = h.volumeIn > 0 ? h.valueIn / h.volumeIn : 0.0;
   double closePrice = h.volumeOut > 0 ? h.valueOut / h.volumeOut : 0.0;
   return Obj(KI("ticket", (long)positionId) + KI("login", TerminalLogin()) + KS("symbol", h.symbol) + KI("type", h.type)
              + KD("volume", h.volumeIn, VOLUME_DIGITS) + KD("price_open", openPrice, digits)
              + KD("price_current", closePrice, digits) + KD("sl", h.sl, digits) + KD("tp", h.tp, digits)
              + KD("profit", h.profit, MONEY_DIGITS) + KD("swap", h.swap, MONEY_DIGITS)
              + KD("commission", h.commission, MONEY_DIGITS) + KI("magic", h.magic) + KS("comment", h.comment)
              + KI("reason", h.reason) + KI("time_msc", UtcMsc(h.timeOpen)) + KI("time_update_msc", UtcMsc(h.timeLast))
              + KB("closed", true) + KI("close_time_msc", UtcMsc(h.timeClose)) + KD("close_price", closePrice, digits)
              + KI("close_reason", h.closeReason));
}

string PositionJson(ulong positionId) {
   if(PositionSelectByTicket(positionId)) return OpenPositionJson(positionId);
   return ClosedPositionJson(positionId);
}

// An order is read from the live list while pending, else from history (filled, canceled, ...).
long   OrderInt(ulong t, ENUM_ORDER_PROPERTY_INTEGER p, bool hist) { return hist ? HistoryOrderGetInteger(t, p) : OrderGetInteger(p); }
double OrderDbl(ulong t, ENUM_ORDER_PROPERTY_DOUBLE p, bool hist)  { return hist ? HistoryOrderGetDouble(t, p) : OrderGetDouble(p); }
string OrderStr(ulong t, ENUM_ORDER_PROPERTY_STRING p, bool hist)  { return hist ? HistoryOrderGetString(t, p) : OrderGetString(p); }

string OrderJson(ulong t) {
   bool hist = false;
   if(!OrderSelect(t)) {
      if(!HistoryOrderSelect(t)) return "";
      hist = true;
   }
   string symbol = OrderStr(t, ORDER_SYMBOL, hist);
   int digits = PriceDigits(symbol);
   return Obj(KI("ticket", (long)t) + KI("login", TerminalLogin()) + KS("symbol", symbol)
              + KI("type", OrderInt(t, ORDER_TYPE, hist)) + KI("state", OrderInt(t, ORDER_STATE, hist))
              + KI("type_filling", OrderInt(t, ORDER_TYPE_FILLING, hist))
              + KD("volume_initial", OrderDbl(t, ORDER_VOLUME_INITIAL, hist), VOLUME_DIGITS)
              + KD("volume_current", OrderDbl(t, ORDER_VOLUME_CURRENT, hist), VOLUME_DIGITS)
              + KD("price_open", OrderDbl(t, ORDER_PRICE_OPEN, hist), digits)
              + KD("price_current", OrderDbl(t, ORDER_PRICE_CURRENT, hist), digits)
              + KD("sl", OrderDbl(t, ORDER_SL, hist), digits) + KD("tp", OrderDbl(t, ORDER_TP, hist), digits)
              + KI("magic", OrderInt(t, ORDER_MAGIC, hist)) + KS("comment", OrderStr(t, ORDER_COMMENT, hist))
              + KI("position_id", OrderInt(t, ORDER_POSITION_ID, hist))
              + KI("time_setup_msc", UtcMsc(OrderInt(t, ORDER_TIME_SETUP_MSC, hist)))
              + KI("time_done_msc", UtcMsc(OrderInt(t, ORDER_TIME_DONE_MSC, hist))));
}

// ---- Changes: the rows one step changed, collected, then numbered when sent ----
string g_chPositions, g_chOrders, g_chDeals, g_chAccounts;

void ChangesReset() { g_chPositions = ""; g_chOrders = ""; g_chDeals = ""; g_chAccounts = ""; }
bool ChangesEmpty() { return g_chPositions == "" && g_chOrders == "" && g_chDeals == "" && g_chAccounts == ""; }

string ChangesJson() {
   g_sequence++;
   return Obj(KR("positions", "[" + g_chPositions + "]") + KR("orders", "[" + g_chOrders + "]")
              + KR("deals", "[" + g_chDeals + "]") + KR("accounts", "[" + g_chAccounts + "]")
              + KI("sequence", (long)g_sequence));
}

// ---- commands ----

string ReplyOk(const string id, const string members) { return Obj("\"v\":1,\"id\":" + id + ",\"ok\":true," + members); }

string ReplyError(const string id, const string error, const string message) {
   return Obj("\"v\":1,\"id\":" + id + ",\"ok\":false," + KS("error", error) + KS("message", message));
}

// Every character is compared, without an early exit, so the time taken does not reveal a prefix.
bool TokenMatches(const string given) {
   int a = StringLen(AuthToken), b = StringLen(given);
   int diff = a ^ b;
   for(int i = 0; i < MathMax(a, b); i++) {
      int x = i < a ? StringGetCharacter(AuthToken, i) : 0;
      int y = i < b ? StringGetCharacter(given, i) : 0;
      diff |= x ^ y;
   }
   return diff == 0;
}

// No token: a demo account only, checked on every command (the terminal may switch accounts).
bool Authorized(const string given) { return AuthToken == "" ? IsDemoAccount() : TokenMatches(given); }

// Commands with a `login` argument act on this terminal's account only; sets the reply if not.
bool CheckLogin(const string id, string &reply) {
   if(TerminalLogin() == 0) reply = ReplyError(id, "unavailable", "the terminal is not logged in to an account");
   else if(!HasArg("login", JV_NUMBER)) reply = ReplyError(id, "bad_request", "login is required");
   else if(ArgLong("login") != TerminalLogin()) reply = ReplyError(id, "not_found", "this terminal serves another account");
   else return true;
   return false;
}

string CmdHello(const string id) {
   return ReplyOk(id, KR("terminal", Obj(KI("login", TerminalLogin()) + KS("server", AccountInfoString(ACCOUNT_SERVER))
                                         + KS("company", AccountInfoString(ACCOUNT_COMPANY))
                                         + KS("name", TerminalInfoString(TERMINAL_NAME))
                                         + KI("build", TerminalInfoInteger(TERMINAL_BUILD))
                                         + KB("connected", TradeServerConnected())
                                         + KB("trade_allowed", TradingPermitted()) + KS("accounts", "single")
                                         + KI("server_utc_offset_s", ServerUtcOffsetSeconds()))));
}

// A terminal cannot open accounts: it answers the one it is logged in to (name, currency,
// leverage and deposit are ignored: they are the broker's).
string CmdAccountOpen(const string id) {
   if(TerminalLogin() == 0) return ReplyError(id, "unavailable", "the terminal is not logged in to an account");
   string account = AccountJson();
   ChangesReset();
   Append(g_chAccounts, account);
   return ReplyOk(id, KR("account", account) + KR("changes", ChangesJson()));
}

string CmdAccountInfo(const string id) {
   string reply;
   if(!CheckLogin(id, reply)) return reply;
   return ReplyOk(id, KR("account", AccountJson()));
}

string CmdSymbols(const string id) {
   string list = "";
   for(int i = 0; i < SymbolsTotal(true); i++) Append(list, SymbolJson(SymbolName(i, true)));
   return ReplyOk(id, KR("symbols", "[" + list + "]"));
}

string CmdSymbol(const string id) {
   string name = ArgString("symbol");
   if(!InMarketWatch(name)) return ReplyError(id, "not_found", "no such symbol in Market Watch");
   return ReplyOk(id, KR("symbol", SymbolJson(name)));
}

string CmdTick(const string id) {
   string name = ArgString("symbol");
   MqlTick tick;
   if(!InMarketWatch(name)) return ReplyError(id, "not_found", "no such symbol in Market Watch");
   if(!SymbolInfoTick(name, tick)) return ReplyError(id, "not_found", "no quote for this symbol yet");
   return ReplyOk(id, KR("tick", TickJson(tick, PriceDigits(name))));
}

// OrderSend returns once the server has answered, but the terminal may add the deal to its history
// a moment later: wait briefly rather than reply without it (the trade event carries it anyway).
bool WaitForDeal(ulong deal) {
   for(int i = 0; i < 20; i++) {
      if(HistoryDealSelect(deal)) return true;
      Sleep(5);
   }
   return false;
}

void FillRequest(MqlTradeRequest &req) {
   req.action = (ENUM_TRADE_REQUEST_ACTIONS)(int)ArgLong("action");
   req.magic = (ulong)ArgLong("magic");
   req.order = (ulong)ArgLong("order");
   req.symbol = ArgString("symbol");
   req.position = (ulong)ArgLong("position");
   // SL/TP and pending-order requests may name only the ticket; MT5 wants the symbol as well.
   if(req.symbol == "" && req.position != 0 && PositionSelectByTicket(req.position)) req.symbol = PositionGetString(POSITION_SYMBOL);
   if(req.symbol == "" && req.order != 0 && OrderSelect(req.order)) req.symbol = OrderGetString(ORDER_SYMBOL);
   int digits = PriceDigits(req.symbol);
   // Prices off the symbol's grid are refused (TRADE_RETCODE_INVALID_PRICE); JSON doubles carry noise.
   req.volume = NormalizeDouble(ArgDouble("volume"), VOLUME_DIGITS);
   req.price = NormalizeDouble(ArgDouble("price"), digits);
   req.sl = NormalizeDouble(ArgDouble("sl"), digits);
   req.tp = NormalizeDouble(ArgDouble("tp"), digits);
   req.deviation = (ulong)ArgLong("deviation");
   req.type = (ENUM_ORDER_TYPE)(int)ArgLong("type");
   req.type_filling = (ENUM_ORDER_TYPE_FILLING)(int)ArgLong("type_filling");
   req.type_time = ORDER_TIME_GTC;
   req.comment = ArgString("comment");
   // Price 0 means "at market" in the model; instant and request execution need the price itself.
   MqlTick tick;
   if(req.action == TRADE_ACTION_DEAL && req.price == 0 && SymbolInfoTick(req.symbol, tick))
      req.price = req.type == ORDER_TYPE_BUY ? tick.ask : tick.bid;
}

// Collects what a successful request changed: its deal, the position it opened, changed or closed,
// its order (pending, or the filled market order in history), and the account.
ulong CollectOrderChanges(const MqlTradeRequest &req, const MqlTradeResult &res) {
   ulong positionId = req.position;
   if(res.deal != 0 && WaitForDeal(res.deal)) {
      if(positionId == 0) positionId = (ulong)HistoryDealGetInteger(res.deal, DEAL_POSITION_ID);
      Append(g_chDeals, DealJson(res.deal));   // before PositionJson replaces the history selection
   }
   if(positionId != 0) Append(g_chPositions, PositionJson(positionId));
   ulong order = res.order != 0 ? res.order : req.order;
   if(order != 0) Append(g_chOrders, OrderJson(order));
   Append(g_chAccounts, AccountJson());
   return positionId;
}

string CmdOrderSend(const string id) {
   string reply;
   if(!CheckLogin(id, reply)) return reply;
   if(!TradeServerConnected()) return ReplyError(id, "unavailable", "the terminal is not connected to its trade server");
   if(!HasArg("action", JV_NUMBER) || !HasArg("type", JV_NUMBER)) return ReplyError(id, "bad_request", "action and type are required");
   MqlTradeRequest req;
   MqlTradeResult res;
   ZeroMemory(req);
   ZeroMemory(res);
   FillRequest(req);
   ResetLastError();
   bool sent = OrderSend(req, res);
   int error = sent ? 0 : GetLastError();
   uint retcode = res.retcode;
   string comment = res.comment;
   if(retcode == 0) {   // refused by the terminal before it reached the server: say why
      retcode = TRADE_RETCODE_ERROR;
      if(comment == "") comment = "OrderSend failed, error " + IntegerToString(error);
   }
   ChangesReset();
   ulong positionId = req.position;
   if(retcode == TRADE_RETCODE_DONE || retcode == TRADE_RETCODE_DONE_PARTIAL || retcode == TRADE_RETCODE_PLACED)
      positionId = CollectOrderChanges(req, res);
   int digits = PriceDigits(req.symbol);
   string result = Obj(KI("retcode", (long)retcode) + KI("deal", (long)res.deal) + KI("order", (long)res.order)
                       + KI("position", (long)positionId) + KD("volume", res.volume, VOLUME_DIGITS)
                       + KD("price", res.price, digits) + KD("bid", res.bid, digits) + KD("ask", res.ask, digits)
                       + KS("comment", comment));
   return ReplyOk(id, KR("result", result) + KR("changes", ChangesJson()));
}

string CmdPositions(const string id) {
   string reply, list = "", symbol = ArgString("symbol");
   if(!CheckLogin(id, reply)) return reply;
   for(int i = 0; i < PositionsTotal(); i++) {
      ulong ticket = PositionGetTicket(i);
      if(ticket != 0 && (symbol == "" || PositionGetString(POSITION_SYMBOL) == symbol)) Append(list, OpenPositionJson(ticket));
   }
   return ReplyOk(id, KR("positions", "[" + list + "]"));
}

string CmdOrders(const string id) {
   string reply, list = "", symbol = ArgString("symbol");
   if(!CheckLogin(id, reply)) return reply;
   for(int i = 0; i < OrdersTotal(); i++) {
      ulong ticket = OrderGetTicket(i);
      if(ticket != 0 && (symbol == "" || OrderGetString(ORDER_SYMBOL) == symbol)) Append(list, OrderJson(ticket));
   }
   return ReplyOk(id, KR("orders", "[" + list + "]"));
}

string CmdHistoryDeals(const string id) {
   string reply;
   if(!CheckLogin(id, reply)) return reply;
   if(!HasArg("from_msc", JV_NUMBER) || !HasArg("to_msc", JV_NUMBER)) return ReplyError(id, "bad_request", "from_msc and to_msc are required");
   // The bounds arrive in UTC; the history is on the server's clock.
   long from = ServerMsc(ArgLong("from_msc")), to = ServerMsc(ArgLong("to_msc"));
   // HistorySelect takes seconds, both ends included; the millisecond bounds are applied below.
   if(!HistorySelect((datetime)(from / 1000), (datetime)(to / 1000 + 1)))
      return ReplyError(id, "unavailable", "the terminal could not select its history");
   int count = 0, total = HistoryDealsTotal();
   ulong tickets[];
   long times[];
   ArrayResize(tickets, total);
   ArrayResize(times, total);
   for(int i = 0; i < total; i++) {
      ulong deal = HistoryDealGetTicket(i);
      long when = deal != 0 ? HistoryDealGetInteger(deal, DEAL_TIME_MSC) : 0;
      if(deal == 0 || when < from || when >= to) continue;
      // Insertion by (time, ticket), oldest first: the history is almost always in order already.
      int j = count++;
      for(; j > 0 && (times[j - 1] > when || (times[j - 1] == when && tickets[j - 1] > deal)); j--) {
         times[j] = times[j - 1];
         tickets[j] = tickets[j - 1];
      }
      times[j] = when;
      tickets[j] = deal;
   }
   string list = "";
   for(int i = 0; i < count; i++) Append(list, DealJson(tickets[i]));
   return ReplyOk(id, KR("deals", "[" + list + "]"));
}

// The protocol's timeframe names; PERIOD_CURRENT for any other name.
ENUM_TIMEFRAMES TimeframeOf(const string name) {
   if(name == "M1")  return PERIOD_M1;
   if(name == "M5")  return PERIOD_M5;
   if(name == "M15") return PERIOD_M15;
   if(name == "M30") return PERIOD_M30;
   if(name == "H1")  return PERIOD_H1;
   if(name == "H4")  return PERIOD_H4;
   if(name == "D1")  return PERIOD_D1;
   return PERIOD_CURRENT;
}

string RateJson(const MqlRates &bar, int digits) {
   return Obj(KI("time_msc", UtcMsc((long)bar.time * 1000)) + KD("open", bar.open, digits) + KD("high", bar.high, digits)
              + KD("low", bar.low, digits) + KD("close", bar.close, digits) + KI("tick_volume", bar.tick_volume));
}

// The newest `count` bars, oldest first (CopyRates into an array that is not a series). A
// history the terminal has not loaded yet answers no bars, not an error: CopyRates starts the
// download, and "unavailable" would say the trade server is gone.
string CmdRates(const string id) {
   string name = ArgString("symbol");
   ENUM_TIMEFRAMES tf = TimeframeOf(ArgString("timeframe"));
   long count = ArgLong("count");
   if(tf == PERIOD_CURRENT || !HasArg("count", JV_NUMBER) || count < 1 || count > MAX_RATES)
      return ReplyError(id, "bad_request", "rates needs symbol, timeframe (M1..D1) and count (1..1000)");
   if(!InMarketWatch(name)) return ReplyError(id, "not_found", "no such symbol in Market Watch");
   MqlRates bars[];
   int n = CopyRates(name, tf, 0, (int)count, bars);
   int digits = PriceDigits(name);
   string list = "";
   for(int i = 0; i < n; i++) Append(list, RateJson(bars[i], digits));
   return ReplyOk(id, KR("rates", "[" + list + "]"));
}

string HandleCommand(const string text) {
   if(!ParseFlatObject(text)) return ReplyError("0", "bad_request", "not a flat JSON object");
   int idIndex = FindArg("id", JV_NUMBER);
   if(idIndex < 0 || StringFind(g_args[idIndex].value, "-") >= 0 || !IsIntegerText(g_args[idIndex].value))
      return ReplyError("0", "bad_request", "id must be an unsigned integer");
   string id = g_args[idIndex].value;   // echoed as received, so no 64-bit value is rounded
   if(ArgLong("v") != PROTOCOL_VERSION) return ReplyError(id, "bad_request", "unsupported protocol version");
   if(!HasArg("cmd", JV_STRING)) return ReplyError(id, "bad_request", "cmd is required");
   if(!Authorized(ArgString("token"))) return ReplyError(id, "unauthorized", "wrong or missing token");
   string cmd = ArgString("cmd");
   if(cmd == "hello")         return CmdHello(id);
   if(cmd == "account_open")  return CmdAccountOpen(id);
   if(cmd == "account_info")  return CmdAccountInfo(id);
   if(cmd == "symbols")       return CmdSymbols(id);
   if(cmd == "symbol")        return CmdSymbol(id);
   if(cmd == "tick")          return CmdTick(id);
   if(cmd == "order_send")    return CmdOrderSend(id);
   if(cmd == "positions")     return CmdPositions(id);
   if(cmd == "orders")        return CmdOrders(id);
   if(cmd == "history_deals") return CmdHistoryDeals(id);
   if(cmd == "rates")         return CmdRates(id);
   return ReplyError(id, "unknown_command", "unknown command: " + cmd);
}

// ---- ZeroMQ transport ----

long OpenSocket(int type, const string endpoint) {
   long socket = zmq_socket(g_context, type);
   if(socket == 0) { PrintFormat("PermisoBridge: zmq_socket failed, errno %d", zmq_errno()); return 0; }
   int linger = 0;   // unsent messages must never hold up zmq_ctx_term, and with it the terminal
   zmq_setsockopt(socket, ZMQ_LINGER, linger, sizeof(int));
   uchar address[];
   StringToCharArray(endpoint, address, 0, WHOLE_ARRAY, CP_UTF8);   // NUL-terminated, as zmq_bind wants
   if(zmq_bind(socket, address) != 0) {
      PrintFormat("PermisoBridge: cannot bind %s, errno %d (is the port in use?)", endpoint, zmq_errno());
      zmq_close(socket);
      return 0;
   }
   return socket;
}

void CloseCommandSocket() {
   if(g_commands != 0) zmq_close(g_commands);
   g_commands = 0;   // reopened at the next heartbeat
}

void CloseSockets() {
   CloseCommandSocket();
   if(g_events != 0) zmq_close(g_events);
   if(g_context != 0) zmq_ctx_term(g_context);
   g_events = 0;
   g_context = 0;
}

// One frame, UTF-8, without the NUL that StringToCharArray appends.
bool SendText(long socket, const string text) {
   uchar bytes[];
   int n = StringToCharArray(text, bytes, 0, WHOLE_ARRAY, CP_UTF8);
   if(n > 0 && bytes[n - 1] == 0) n--;
   return zmq_send(socket, bytes, (ulong)n, ZMQ_DONTWAIT) == n;
}

// PUB drops what no subscriber takes; the connector re-reads, so a lost event is harmless.
void Publish(const string topic, const string json) {
   if(g_events != 0) SendText(g_events, topic + " " + json);
}

void ServeCommands() {
   for(int i = 0; i < MAX_COMMANDS_PER_TIMER && g_commands != 0; i++) {
      int n = zmq_recv(g_commands, g_rx, RX_BUFFER_SIZE, ZMQ_DONTWAIT);
      if(n < 0) {
         int error = zmq_errno();
         if(error == ZMQ_EAGAIN) return;   // nothing waiting
         PrintFormat("PermisoBridge: receive failed, errno %d; rebuilding the command socket", error);
         CloseCommandSocket();
         return;
      }
      // An empty frame is refused without conversion: a count of 0 must not read the old buffer.
      string reply = (n == 0 || n > RX_BUFFER_SIZE) ? ReplyError("0", "bad_request", "empty or too large command")
                                                    : HandleCommand(CharArrayToString(g_rx, 0, n, CP_UTF8));
      if(!SendText(g_commands, reply)) {
         // A REP socket that could not reply still owes one and would refuse every later request;
         // rebuilding it costs the peer one timed-out command, which the connector handles.
         PrintFormat("PermisoBridge: reply failed, errno %d; rebuilding the command socket", zmq_errno());
         CloseCommandSocket();
      }
   }
}

void PublishTicks() {
   int total = SymbolsTotal(true);
   if(ArraySize(g_tickNames) != total) {
      ArrayResize(g_tickNames, total);
      ArrayResize(g_tickTimes, total);
      for(int i = 0; i < total; i++) { g_tickNames[i] = ""; g_tickTimes[i] = 0; }
   }
   for(int i = 0; i < total; i++) {
      string name = SymbolName(i, true);
      if(g_tickNames[i] != name) { g_tickNames[i] = name; g_tickTimes[i] = 0; }   // Market Watch changed
      MqlTick tick;
      if(!SymbolInfoTick(name, tick) || tick.time_msc == g_tickTimes[i]) continue;
      g_tickTimes[i] = tick.time_msc;
      Publish("tick", Obj(KS("symbol", name) + KR("tick", TickJson(tick, PriceDigits(name)))));
   }
}

// The trade server's time, in UTC as every time on the wire.
void PublishHeartbeat() {
   Publish("heartbeat", Obj(KI("time_msc", UtcMsc((long)TimeTradeServer() * 1000)) + KB("connected", TradeServerConnected())));
}

// ---- event handlers ----

int OnInit() {
   if(MQLInfoInteger(MQL_DLLS_ALLOWED) == 0) {
      Print("PermisoBridge: needs libzmq.dll: tick \"Allow DLL imports\" (Tools > Options > Expert Advisors, and the EA's Common tab)");
      return INIT_FAILED;
   }
   if(AuthToken == "") {
      // Without a token anyone who reaches the endpoint could trade: demo accounts only. An account
      // not loaded yet is let through here; every command checks again.
      if(TerminalLogin() != 0 && !IsDemoAccount()) {
         Print("PermisoBridge: AuthToken is required on a real account (set it to MT5_TERMINAL_TOKEN)");
         return INIT_PARAMETERS_INCORRECT;
      }
      Print("PermisoBridge: no AuthToken; commands are accepted only while the account is a demo account");
   }
   ArrayResize(g_rx, RX_BUFFER_SIZE);
   g_context = zmq_ctx_new();
   if(g_context == 0) { Print("PermisoBridge: zmq_ctx_new failed"); return INIT_FAILED; }
   g_commands = OpenSocket(ZMQ_REP, CommandEndpoint);
   g_events = OpenSocket(ZMQ_PUB, EventEndpoint);
   if(g_commands == 0 || g_events == 0) { CloseSockets(); return INIT_FAILED; }
   // 1 ms asks for the fastest timer; it fires at the OS timer's resolution (10-16 ms on Windows).
   if(!EventSetMillisecondTimer(1)) { Print("PermisoBridge: cannot start the timer"); CloseSockets(); return INIT_FAILED; }
   PrintFormat("PermisoBridge v%d: commands on %s, events on %s, account %s", PROTOCOL_VERSION, CommandEndpoint,
               EventEndpoint, IntegerToString(TerminalLogin()));
   return INIT_SUCCEEDED;
}

void OnDeinit(const int reason) {
   EventKillTimer();
   CloseSockets();
}

void OnTick() {}   // the work is timer-driven: the ticks of every Market Watch symbol, not one chart's

void OnTimer() {
   if(g_context == 0) return;
   ServeCommands();
   PublishTicks();
   ulong now = GetTickCount64();
   if(now - g_lastHeartbeat >= HEARTBEAT_MS) {
      g_lastHeartbeat = now;
      PublishHeartbeat();
      if(g_commands == 0) g_commands = OpenSocket(ZMQ_REP, CommandEndpoint);   // after a socket failure
   }
}

// Rows the trade server changed: SL/TP hits, triggered orders, stop-outs, trades made elsewhere,
// and the deals of our own order_send again (rows are upserts; sequence orders them).
void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result) {
   if(g_events == 0) return;
   ChangesReset();
   switch(trans.type) {
      case TRADE_TRANSACTION_DEAL_ADD:
         if(HistoryDealSelect(trans.deal)) {
            ulong positionId = (ulong)HistoryDealGetInteger(trans.deal, DEAL_POSITION_ID);
            Append(g_chDeals, DealJson(trans.deal));   // before PositionJson replaces the history selection
            if(positionId != 0) Append(g_chPositions, PositionJson(positionId));
         }
         break;
      case TRADE_TRANSACTION_POSITION:   // SL/TP or volume changed without a deal
         Append(g_chPositions, PositionJson(trans.position));
         break;
      case TRADE_TRANSACTION_ORDER_ADD:
      case TRADE_TRANSACTION_ORDER_UPDATE:
      case TRADE_TRANSACTION_ORDER_DELETE:
      case TRADE_TRANSACTION_HISTORY_ADD:   // a removed or triggered order reaches history, final state
         if(IsPendingType(trans.order_type)) Append(g_chOrders, OrderJson(trans.order));
         break;
      default:
         return;
   }
   if(ChangesEmpty()) return;
   Append(g_chAccounts, AccountJson());
   Publish("trade", Obj(KR("changes", ChangesJson())));
}
