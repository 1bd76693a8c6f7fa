// See failure.hpp.
#include "resource/failure.hpp"

namespace permiso::resource {

std::string_view to_string(AuthFailure f) {
  switch (f) {
    case AuthFailure::MissingToken:
      return "missing_token";
    case AuthFailure::Malformed:
      return "malformed";
    case AuthFailure::UnsupportedAlgorithm:
      return "unsupported_algorithm";
    case AuthFailure::UnknownKey:
      return "unknown_key";
    case AuthFailure::BadSignature:
      return "bad_signature";
    case AuthFailure::Expired:
      return "expired";
    case AuthFailure::NotYetValid:
      return "not_yet_valid";
    case AuthFailure::WrongIssuer:
      return "wrong_issuer";
    case AuthFailure::WrongAudience:
      return "wrong_audience";
    case AuthFailure::WrongType:
      return "wrong_type";
    case AuthFailure::Revoked:
      return "revoked";
    case AuthFailure::KeysUnavailable:
      return "keys_unavailable";
  }
  return "unknown";
}

std::string_view describe(AuthFailure f) {
  switch (f) {
    case AuthFailure::MissingToken:
      return "An access token is required.";
    case AuthFailure::Malformed:
      return "The access token is malformed.";
    case AuthFailure::UnsupportedAlgorithm:
      return "The access token is signed with an algorithm that is not accepted.";
    case AuthFailure::UnknownKey:
      return "The access token is signed with an unknown key.";
    case AuthFailure::BadSignature:
      return "The access token signature is invalid.";
    case AuthFailure::Expired:
      return "The access token expired.";
    case AuthFailure::NotYetValid:
      return "The access token is not valid yet.";
    case AuthFailure::WrongIssuer:
      return "The access token was issued by another issuer.";
    case AuthFailure::WrongAudience:
      return "The access token is meant for another audience.";
    case AuthFailure::WrongType:
      return "The token is not an access token.";
    case AuthFailure::Revoked:
      return "The access token has been revoked.";
    case AuthFailure::KeysUnavailable:
      return "The token signing keys are not available yet; retry shortly.";
  }
  return "The access token is invalid.";
}

AuthFailure from_jwt_status(jose::JwtStatus s) {
  switch (s) {
    case jose::JwtStatus::Malformed:
    case jose::JwtStatus::ForbiddenHeader:
    case jose::JwtStatus::MissingClaim:
      return AuthFailure::Malformed;
    case jose::JwtStatus::UnsupportedAlgorithm:
    case jose::JwtStatus::AlgorithmKeyMismatch:
      return AuthFailure::UnsupportedAlgorithm;
    case jose::JwtStatus::UnknownKid:
      return AuthFailure::UnknownKey;
    case jose::JwtStatus::BadSignature:
      return AuthFailure::BadSignature;
    case jose::JwtStatus::Expired:
      return AuthFailure::Expired;
    case jose::JwtStatus::NotYetValid:
      return AuthFailure::NotYetValid;
    case jose::JwtStatus::IssuerMismatch:
      return AuthFailure::WrongIssuer;
    case jose::JwtStatus::AudienceMismatch:
      return AuthFailure::WrongAudience;
    case jose::JwtStatus::TypeMismatch:
      return AuthFailure::WrongType;
  }
  return AuthFailure::Malformed;
}

}  // namespace permiso::resource
