/**
 * `ubackup/encryption`: age v1 encryption for recipients (X25519, ssh-rsa /
 * RSA-4096 as µbackup), and decryption of age and µbackup `.gz.aes` streams.
 * Loads neither the AWS SDK nor dockerode.
 */
export { decrypt, type DecryptOptions } from "./decrypt.ts"
export { Encryption, makeEncryption } from "./Encryption.ts"
export { DecryptError, DecryptFailure, KeyError } from "./errors.ts"
export { type DecryptionKeys, generateDecryptionKey, type KeyType, parseDecryptionKeys, parseRecipient } from "./keys.ts"
export type { Identity, Recipient } from "./age/recipient.ts"
