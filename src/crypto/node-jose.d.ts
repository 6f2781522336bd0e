/**
 * The little of node-jose@2.2.0 (a dev-only interoperability oracle, CommonJS, no bundled
 * types) that the crypto and `keys export-broker` tests use.
 */
declare module 'node-jose' {
  interface Key {
    readonly kid: string;
    readonly kty: string;
  }
  /** A key store: decrypt and verify pick the key by the header's kid, use and alg. */
  interface KeyStore {
    all(props?: Record<string, unknown>): Key[];
  }
  interface DecryptResult {
    header: Record<string, unknown>;
    protected: string[];
    payload: Buffer;
    key: Key;
  }
  interface VerifyResult {
    header: Record<string, unknown>;
    payload: Buffer;
    signature: Buffer;
    key: Key;
  }
  interface Encrypter {
    update(input: Buffer | string): Encrypter;
    final(): Promise<string>;
  }
  interface Signer {
    update(input: Buffer | string): Signer;
    final(): Promise<string>;
  }
  const jose: {
    JWK: {
      asKey(jwk: Record<string, unknown>): Promise<Key>;
      asKeyStore(set: { keys: Record<string, unknown>[] }): Promise<KeyStore>;
    };
    JWE: {
      createDecrypt(
        key: Key | KeyStore,
        options?: Record<string, unknown>,
      ): { decrypt(input: string): Promise<DecryptResult> };
      createEncrypt(
        options: { format: 'compact'; fields?: Record<string, unknown>; contentAlg?: string },
        key: Key,
      ): Encrypter;
    };
    JWS: {
      createVerify(
        key: Key | KeyStore,
        options?: Record<string, unknown>,
      ): { verify(input: string): Promise<VerifyResult> };
      createSign(
        options: { format: 'compact'; fields?: Record<string, unknown>; alg?: string },
        key: Key,
      ): Signer;
    };
  };
  export default jose;
}
