/**
 * Imported before vscode-languageserver/node (cli.ts): that module reads `--clientProcessId` from
 * process.argv when it loads and calls process.exit once that process is gone, which tears the
 * inference worker down mid-forward (issue 22). The flag is renamed in place to `--client-pid`; `serve`
 * reads either name and ends the session the daemon's own way (daemon/index.ts watchClient).
 */
for (let i = 0; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (a === "--clientProcessId") process.argv[i] = "--client-pid";
  else if (a.startsWith("--clientProcessId=")) process.argv[i] = "--client-pid=" + a.slice("--clientProcessId=".length);
}
export {};
