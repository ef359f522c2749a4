import { findUser, findUserByKeyHash, insertApiKey, insertUser, type Database } from "@ensemble/db";
import { generateApiKey, hashApiKey } from "./auth/api-keys.js";

const DEV_USER_ID = "dev";

/**
 * Development mode: a "dev" user and an API key, so a newcomer can call the API at
 * once. With DEV_API_KEY set that key is accepted; otherwise a new key is made and
 * printed at every start (keys are stored hashed and cannot be shown again).
 */
export async function ensureDevCredentials(
  db: Database,
  fixedKey: string | undefined,
): Promise<{ userId: string; apiKey: string }> {
  if (!(await findUser(db, DEV_USER_ID))) await insertUser(db, { id: DEV_USER_ID, name: "Development user" });
  if (fixedKey) {
    const hash = hashApiKey(fixedKey);
    if (!(await findUserByKeyHash(db, hash)))
      await insertApiKey(db, { userId: DEV_USER_ID, keyHash: hash, prefix: fixedKey.slice(0, 10) });
    return { userId: DEV_USER_ID, apiKey: fixedKey };
  }
  const { key, prefix, hash } = generateApiKey();
  await insertApiKey(db, { userId: DEV_USER_ID, keyHash: hash, prefix });
  return { userId: DEV_USER_ID, apiKey: key };
}
