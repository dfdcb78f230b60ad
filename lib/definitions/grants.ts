/**
 * Grants are `service:permission` (optionally `service:permission:scope`) strings. A requirement
 * is met by the exact grant or by the service wildcard `service:*`. Pure: workflow code may use it.
 */

/** True when `grants` include `required` exactly or its service wildcard (`hub:*` meets `hub:write`). */
export function hasGrant(grants: readonly string[], required: string): boolean {
  if (grants.includes(required)) return true;
  const service = required.split(':')[0];
  return service !== undefined && service !== '' && grants.includes(`${service}:*`);
}

/** True when every grant in `required` is met by `grants`. */
export function hasAllGrants(grants: readonly string[], required: readonly string[]): boolean {
  return required.every((r) => hasGrant(grants, r));
}
