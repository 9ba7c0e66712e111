/**
 * Labels that mark what pinacled owns. Cleanup and reconciliation select by these, never by
 * name patterns: a container without MANAGED=true is never touched.
 */
export const LABEL = {
  MANAGED: 'dev.pinacle.managed',
  POD_ID: 'dev.pinacle.pod-id',
  POD_NAME: 'dev.pinacle.pod-name',
  TEMPLATE: 'dev.pinacle.template',
  /** User labels are copied to the container under this prefix. */
  USER_PREFIX: 'dev.pinacle.label.',
} as const;

export const MANAGED_FILTER = `${LABEL.MANAGED}=true`;

/**
 * The store (data directory) that made a container, volume or network: the reconciler removes
 * only strays of its own store. Set by the service, not the pure spec builder, which does not
 * know the store.
 */
export const STORE_ID_LABEL = 'dev.pinacle.store-id';
