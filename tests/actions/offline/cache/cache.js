// Restore (main) and save (post) of the offline actions/cache stand-in; see action.yml.
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const store = process.env.OFFLINE_CACHE || "";
const target = input("path").replace(/^~(?=$|\/)/, os.homedir());
const key = input("key");
const entry = store && path.join(store, key);
// The runner hands the post step what the main step saved with GITHUB_STATE, as STATE_<name>.
const isPost = process.env.STATE_restored !== undefined;

function copy(from, to) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(to), { recursive: true });
  execFileSync("cp", ["-a", from, to]);
}

if (!isPost) {
  let hit = false;
  if (entry && fs.existsSync(entry)) {
    copy(entry, target);
    hit = true;
  } else if (store) {
    const prefixes = input("restore-keys").split("\n").map((p) => p.trim()).filter(Boolean);
    for (const prefix of prefixes) {
      const found = fs.readdirSync(store).filter((name) => name.startsWith(prefix))
        .map((name) => path.join(store, name))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      if (found.length) { copy(found[0], target); break; }
    }
  }
  fs.appendFileSync(process.env.GITHUB_STATE, `restored=${hit ? "hit" : "miss"}\n`);
  fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${hit}\n`);
  console.log(`cache ${key}: hit=${hit}`);
} else {
  const hit = process.env.STATE_restored === "hit";
  if (entry && !hit && fs.existsSync(target)) {
    copy(target, entry);
    console.log(`cache ${key}: saved`);
  }
}
