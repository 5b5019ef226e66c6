/** Types of scripts/api-docs.mjs, for test/packaging/apiDocs.test.ts. */

export interface EntryPoint {
  /** As an app imports it: `ubackup`, `ubackup/storage/local`. */
  readonly specifier: string
  /** Its page in docs/api: `ubackup.md`, `storage-local.md`. */
  readonly page: string
  /** Its declaration file, relative to dist/lib. */
  readonly types: string
}

/** Every .d.ts under `lib`, by path relative to it. */
export declare const readDeclarations: (lib: string) => Map<string, string>

/** The entry points of package.json's `exports` that have types. */
export declare const entryPoints: (packageJson: { readonly exports?: Record<string, unknown> }) => Array<EntryPoint>

/** docs/api as a Map of file name to Markdown. */
export declare const renderApiDocs: (options: {
  readonly files: ReadonlyMap<string, string>
  readonly entries: ReadonlyArray<EntryPoint>
  readonly sourceExists?: (file: string) => boolean
}) => Map<string, string>

/** docs/api for the package at `packageRoot` (this checkout by default) from the declarations in `lib` (its dist/lib). */
export declare const generateApiDocs: (options?: { readonly packageRoot?: string; readonly lib?: string }) => Map<string, string>

/** The Markdown files now in `dir`. */
export declare const readApiDocs: (dir: string) => Map<string, string>
