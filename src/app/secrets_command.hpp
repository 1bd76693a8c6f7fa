// `<service> secrets …`: the tools for the encrypted secrets provider.
//   secrets generate-key           a new Fernet key for ENCRYPTION_KEY
//   secrets encrypt [--name NAME]  the value on stdin encrypted with ENCRYPTION_KEY, printed as
//                                  a token (or as NAME_ENCRYPTED=token)
// The value is read from stdin, never from an argument (arguments are visible to every user
// of the machine through /proc), with echo off when stdin is a terminal.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace permiso::app {

/// Prints a new key; 0.
int secrets_generate_key(std::ostream& out);
/// Encrypts `in`'s content (one trailing newline dropped) with the key in ENCRYPTION_KEY;
/// 0, or kExitConfig when the key is missing or malformed.
int secrets_encrypt(std::istream& in, std::ostream& out, std::ostream& err, const std::optional<std::string>& name);

}  // namespace permiso::app
