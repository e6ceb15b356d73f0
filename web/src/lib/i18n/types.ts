/**
 * Types that make messages checkable: the `{name}` placeholders of a message as a union, the
 * parameters a call must pass, and `defineMessages`, which makes the compiler hold a translation
 * to the keys and placeholders of its English original.
 */

/** Names of the `{placeholders}` in a message, as a union type (`never` when it has none). */
export type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** Values for every placeholder of a message. */
export type ParamsOf<T extends string> = Record<Placeholders<T>, string | number>;

/** What follows the key in a call: nothing for a plain message, else all of its parameters. */
export type ParamArgs<T extends string> = [Placeholders<T>] extends [never]
  ? []
  : [params: ParamsOf<T>];

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * A translation of `Base`: every key of `Base` and no other, each message with exactly the
 * placeholders of the original (a mismatch names the original in the compiler's error).
 */
export type Translation<Base extends Record<string, string>, T extends Record<string, string>> = {
  [K in keyof T]: K extends keyof Base
    ? Same<Placeholders<T[K]>, Placeholders<Base[K]>> extends true
      ? unknown
      : { mustHaveThePlaceholdersOf: Base[K] }
    : { notAKeyOf: 'the original' };
} & { [K in Exclude<keyof Base, keyof T>]: { missingTranslationOf: Base[K] } };

/** Checks a translation table against its original at compile time; returns it unchanged. */
export function defineMessages<Base extends Record<string, string>>() {
  return <const T extends Record<string, string>>(table: T & NoInfer<Translation<Base, T>>): T =>
    table;
}

/** Fills `{name}` placeholders from `params`; a placeholder without a value stays visible. */
export function fill(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}
