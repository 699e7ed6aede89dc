/** A stand-in for a value a fixture makes in a before hook, so that a describe block can name it first. */

/**
 * An object whose `keys` read from `current()` at the moment they are read (methods bound to it): the
 * fixture's value once its before hook made it, or what `current()` throws before that.
 */
export function standIn<T extends object, K extends keyof T>(
  current: () => T,
  keys: readonly K[],
): Pick<T, K> {
  const proxy = {} as Pick<T, K>;
  for (const key of keys) {
    Object.defineProperty(proxy, key, {
      enumerable: true,
      get: () => {
        const target = current();
        const value = target[key];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  return proxy;
}
