# Writes OUTPUT, a C++ file defining permiso::trading::fix::dictionary_text() as the bytes of
# INPUT (config/fix/FIX44-permiso.xml). A char array, not a raw string literal: the text may
# then hold any character sequence, and no compiler limit on string literals applies.
#   cmake -DINPUT=… -DOUTPUT=… -P embed_dictionary.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# One line of the array per line of the file.
string(REPLACE "'\\x0a'," "'\\x0a',\n    " bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by embed_dictionary.cmake: do not edit.
#include \"trading/fix/session_engine.hpp\"

#include <cstddef>

namespace permiso {
namespace trading {
namespace fix {
namespace {
const char kDictionary[] = {
    ${bytes}};
const std::size_t kDictionarySize = ${size};
}  // namespace

const std::string& dictionary_text() {
  static const std::string text(kDictionary, kDictionarySize);
  return text;
}

}  // namespace fix
}  // namespace trading
}  // namespace permiso
")
# Only a changed dictionary recompiles the file.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
