// Formats .tf files with HashiCorp's hclwrite formatter (the engine of `terraform fmt`), shipped
// as WebAssembly in the npm package @cdktf/hcl-tools; no terraform binary can be installed here.
// Usage: node hclfmt.js [--write] FILE...   Prints each file that is not formatted; exit 3 if any.
"use strict";
const fs = require("fs");
const { format } = require("@cdktf/hcl-tools");

async function main() {
  const args = process.argv.slice(2);
  const write = args[0] === "--write";
  const files = write ? args.slice(1) : args;
  let unformatted = 0;
  for (const file of files) {
    const source = fs.readFileSync(file, "utf8");
    const formatted = await format(source);
    if (formatted !== source) {
      unformatted += 1;
      if (write) {
        fs.writeFileSync(file, formatted);
        console.log(`formatted ${file}`);
      } else {
        console.log(file);
      }
    }
  }
  process.exit(unformatted > 0 && !write ? 3 : 0);
}

main().catch((err) => {
  console.error(`hclfmt: ${err && err.message ? err.message : err}`);
  process.exit(2);
});
