// esbuild --inject for the CommonJS bundles (scripts/bundle.sh): import.meta.url means "this file".
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
