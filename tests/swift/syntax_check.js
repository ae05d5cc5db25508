// Syntax check of Swift sources with the tree-sitter-swift grammar, for
// machines without a Swift toolchain (scripts/test-swift.sh).
//
//   node syntax_check.js FILE.swift...
//
// A file passes when its tree has no ERROR or MISSING node, it declares no
// type member named `Type` or `Protocol` without backticks (swiftc rejects
// those — "would conflict with the 'foo.Protocol' expression" — but the
// grammar accepts them), and every uniffi `FfiConverter…` it uses is declared
// in it (uniffi 0.32.2 once referenced `FfiConverterTypeError_lift` after a
// rename; a parser cannot see that, a compiler would). Before the files, the checker proves it can see
// both kinds of fault in known-bad snippets, so a broken grammar install
// cannot pass everything silently.
//
// The grammar lags the language in two ways that uniffi's output uses, so
// the text is first normalised, keeping line numbers (see `normalise`):
//   * `#if swift(>=5.8)` / `#if compiler(>=6)` blocks around a bare attribute
//     or a lone `extension`: these conditions are evaluated as a current
//     toolchain would (true) and the directive lines blanked;
//   * the Swift 5.10 modifier `nonisolated(unsafe)` is read as `nonisolated`;
//   * a closure whose body is the empty tuple, `{ () }` (uniffi's
//     `writeReturn` for callback methods returning nothing), is read as `{}`:
//     the grammar rejects `()` as a closure's expression.
// Other `#if` conditions (os, canImport) are left to the grammar.
//
// Needs NODE_PATH to hold `tree-sitter` and `tree-sitter-swift`.
'use strict';

const fs = require('fs');
const Parser = require('tree-sitter');
const Swift = require('tree-sitter-swift');

const parser = new Parser();
parser.setLanguage(Swift);

// Large generated files exceed the default 32 KiB input chunk.
function parse(text) {
  return parser.parse(text, null, { bufferSize: Math.max(1 << 16, 2 * Buffer.byteLength(text)) });
}

function syntaxFaults(tree) {
  const faults = [];
  const walk = (node) => {
    if (node.type === 'ERROR' || node.isMissing) {
      const p = node.startPosition;
      faults.push(`${p.row + 1}:${p.column + 1}: ${node.isMissing ? 'missing ' + node.type : 'syntax error'}`);
      if (faults.length >= 20) return;
    }
    if (node.hasError || node.isMissing) {
      for (const child of node.children) walk(child);
    }
  };
  if (tree.rootNode.hasError) walk(tree.rootNode);
  return faults;
}

// Declarations of members named Type/Protocol without backticks.
const RESERVED = /^\s*(?:(?:public|internal|fileprivate|private|open|indirect)\s+)*(?:case|enum|struct|class|typealias|associatedtype|protocol|actor)\s+(Type|Protocol)\b/;

function reservedFaults(text) {
  const faults = [];
  text.split('\n').forEach((line, i) => {
    const m = RESERVED.exec(line);
    if (m) faults.push(`${i + 1}: member named \`${m[1]}\` needs backticks for swiftc`);
  });
  return faults;
}

const VERSION_IF = /^\s*#if\s+(?:swift|compiler)\s*\(\s*>=\s*[0-9.]+\s*\)\s*(?:\/\/.*)?$/;

function normalise(text) {
  // Each open #if: {version: bool, active: bool}.
  const stack = [];
  const inactive = () => stack.some((f) => !f.active);
  const out = text.split('\n').map((line) => {
    const t = line.trim();
    if (t.startsWith('#if')) {
      const version = VERSION_IF.test(line);
      stack.push({ version, active: true });
      return version || inactive() ? '' : line;
    }
    const top = stack[stack.length - 1];
    if ((t.startsWith('#else') || t.startsWith('#elseif')) && top) {
      if (top.version) {
        top.active = false; // the version test was taken as true
        return '';
      }
      return inactive() ? '' : line;
    }
    if (t.startsWith('#endif') && top) {
      stack.pop();
      return top.version || inactive() ? '' : line;
    }
    if (inactive()) return '';
    return line
      .replace(/\bnonisolated\(unsafe\)/g, 'nonisolated        ')
      .replace(/\{ \(\) \}/g, '{    }');
  });
  return out.join('\n');
}

// uniffi's converters are file-local helpers: each one used must be declared
// in the same generated file.
function danglingFaults(text) {
  const declared = new Set();
  for (const m of text.matchAll(/\b(?:struct|class|enum|func|typealias|protocol)\s+(FfiConverter\w+)/g)) {
    declared.add(m[1]);
  }
  const faults = [];
  const seen = new Set();
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\bFfiConverter\w+/g)) {
      const name = m[0];
      if (!declared.has(name) && !seen.has(name) && /^FfiConverter(Type|Optional|Sequence|Map|Timestamp|Duration|String|Bool|U?Int|Float|Double|Data)/.test(name)) {
        seen.add(name);
        faults.push(`${i + 1}: \`${name}\` is used but not declared`);
      }
    }
  });
  return faults;
}

function faultsOf(text) {
  return syntaxFaults(parse(normalise(text))).concat(reservedFaults(text), danglingFaults(text));
}

let passed = 0;
let failed = 0;

// The checker must see faults before its silence means anything.
const selfTests = [
  ['valid Swift', 'let x: Int = 1\nfunc f() -> Int { return x }\n', false],
  ['broken Swift', 'func f( -> Int { return }\nlet = 3\n', true],
  ['reserved member', 'enum E: Error {\n    case Protocol(message: String)\n}\n', true],
  ['escaped member', 'enum E: Error {\n    case `Protocol`(message: String)\n}\n', false],
  ['version-gated attribute', 'struct S {\n#if swift(>=5.8)\n    @_documentation(visibility: private)\n#endif\n    static func f() {}\n}\n', false],
  ['dangling converter', 'struct FfiConverterTypeA {}\nlet x = FfiConverterTypeB_lift(1)\n', true],
  ['declared converter', 'func FfiConverterTypeB_lift(_ v: Int) -> Int { v }\nlet x = FfiConverterTypeB_lift(1)\n', false],
  ['broken inside a version gate', '#if compiler(>=6)\nextension S: Sendable {\n#endif\n', true],
  ['closure returning the empty tuple', 'let writeReturn = { () }\n', false],
  ['broken closure', 'let writeReturn = { ( }\n', true],
];
for (const [name, text, bad] of selfTests) {
  const found = faultsOf(text).length > 0;
  if (found === bad) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL checker self-test "${name}": ${bad ? 'fault not seen' : 'false alarm'}`);
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.log('FAIL no files given');
  failed++;
}
for (const file of files) {
  const faults = faultsOf(fs.readFileSync(file, 'utf8'));
  if (faults.length === 0) {
    passed++;
    console.log(`ok   ${file}`);
  } else {
    failed++;
    console.log(`FAIL ${file}`);
    for (const f of faults) console.log(`     ${file}:${f}`);
  }
}
console.log(`swift-syntax: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
