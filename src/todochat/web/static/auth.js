// Signing in: the bearer token arrives in the address's fragment and lives in this tab only.

const TOKEN = "todochat.token";

/** Move a `#token=…` from the address bar into this tab's storage, leaving no trace in history. */
export function takeTokenFromAddress() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token === null) return;
  fragment.delete("token");
  keepToken(token);
  const rest = fragment.toString();
  history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
}

/** Keep `token` for this tab. */
export function keepToken(token) {
  sessionStorage.setItem(TOKEN, token.trim());
}

/** Forget the token: the next load asks to sign in. */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}

/**
 * The kept token and the user it names (`{token, userId}`), or `{reason}` when there is none
 * (reason null) or it cannot be read. The server verifies every request; this only reads.
 */
export function signedIn() {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) return { reason: null };
  const claims = readClaims(token);
  if (typeof claims?.sub !== "string" || claims.sub === "") {
    return { reason: "That sign-in link does not hold a valid token." };
  }
  return { token, userId: claims.sub, name: typeof claims.name === "string" ? claims.name : null, expires: claims.exp };
}

/** Whether a token's expiry (seconds since the epoch) has passed by this browser's clock. */
export function expired(expires) {
  return typeof expires === "number" && expires * 1000 < Date.now();
}

/** A JWT's claims, decoded without checking the signature; null if it is not a JWT. */
function readClaims(token) {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const binary = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return typeof claims === "object" && claims !== null ? claims : null;
  } catch {
    return null;
  }
}
