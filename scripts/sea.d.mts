/** Types of scripts/sea.mjs, for the tests that build the single-file executable. */

/** The executable's name: ubackup-<platform>-<arch> of the Node it is made of. */
export declare const seaName: string

/** The V8 flags bin/ubackup starts Node with, which the executable runs with too. */
export declare const launcherNodeFlags: () => Array<string>

/** Builds `<out>/ubackup-<platform>-<arch>` (Linux only) and returns its path. */
export declare const buildSea: (options: { readonly out: string; readonly codeCache?: boolean }) => Promise<string>
