// The remote secret stores SECRETS_PROVIDER may name, over HTTPS with the project's one
// HTTP client. A secret the store does not have falls back to the environment variable of
// the same name, as with the other providers; any other failure is an error naming the
// store's answer (never a value). Throttling and server errors are retried with backoff.
//
//   aws    AWS Secrets Manager GetSecretValue, signed with Signature Version 4. Secret NAME is
//          SecretId SECRETS_PREFIX + NAME. Region AWS_REGION (or AWS_DEFAULT_REGION); the
//          endpoint https://secretsmanager.<region>.amazonaws.com, or
//          AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL. Credentials from
//          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else the
//          container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, or
//          AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2, with
//          AWS_CONTAINER_AUTHORIZATION_TOKEN), refreshed before they expire.
//   azure  Azure Key Vault GET /secrets/{name}, with a token from Microsoft Entra client
//          credentials (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET; the authority
//          AZURE_AUTHORITY_HOST, default https://login.microsoftonline.com), refreshed before
//          it expires. Vault AZURE_KEY_VAULT_URL. Key Vault names take letters, digits and
//          dashes: secret NAME is SECRETS_PREFIX + NAME with '_' written '-'.
//
// SECRETS_CA_FILE (or AWS_CA_BUNDLE for aws) names PEM trust anchors instead of the system
// store; SECRETS_TIMEOUT_MS bounds each call (5000).
#pragma once

#include "secrets/provider.hpp"

namespace permiso::secrets {

Result<std::unique_ptr<SecretProvider>, SecretError> make_aws_provider(const EnvLookup& env);
Result<std::unique_ptr<SecretProvider>, SecretError> make_azure_provider(const EnvLookup& env);

}  // namespace permiso::secrets
