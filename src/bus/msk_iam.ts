/**
 * Amazon MSK IAM authentication: SASL/OAUTHBEARER with a token signed by AWS's own signer
 * package (the only importer of aws-msk-iam-sasl-signer-js). kafkajs's built-in "aws"
 * mechanism is not what MSK speaks (tulios/kafkajs#1470), so this is the way in.
 * The token is a presigned URL carrying credentials: it is handed to kafkajs and never logged.
 */
import { generateAuthToken } from "aws-msk-iam-sasl-signer-js";
import { AuthFailure, messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { registerSecretValue } from "../config/secrets.ts";

/** The signer's shape: a region in, a token and its expiry (epoch ms) out. */
export type MskTokenSigner = (options: { region: string }) => Promise<{
  token: string;
  expiryTime: number;
}>;

/** AWS's signer, with credentials from the AWS default chain (env, profile, SSO, IMDS, ...). */
export const awsMskTokenSigner: MskTokenSigner = (options) => generateAuthToken(options);

/**
 * kafkajs's `oauthBearerProvider`: called for every broker connection it authenticates, so
 * each gets a fresh token (they last about 15 minutes; kafkajs re-authenticates before the
 * broker's session lifetime runs out).
 */
export function mskIamTokenProvider(
  region: string,
  logger: Logger,
  signer: MskTokenSigner = awsMskTokenSigner,
): () => Promise<{ value: string }> {
  return async () => {
    let signed: { token: string; expiryTime: number };
    try {
      signed = await signer({ region });
    } catch (error) {
      throw new AuthFailure(
        `Cannot sign an Amazon MSK IAM token for region ${region}: ${
          messageOf(error)
        } (credentials come from the AWS default chain: environment, profile, SSO or instance role)`,
        { cause: error },
      );
    }
    logger.debug("signed an MSK IAM token", {
      region,
      expires: new Date(signed.expiryTime).toISOString(),
    });
    // A base64 presigned URL: no pattern of redact() recognizes it, so it is a known value.
    registerSecretValue(signed.token);
    return { value: signed.token };
  };
}
