// An ordinary function with a compromised dependency: `fast-image-meta` (see node_modules) carries
// a payload that runs on the first call. The function code itself is innocent.
const { mkdirSync, writeFileSync } = require('node:fs');
const { readImageMeta } = require('fast-image-meta');

// Like many functions, this one caches credentials in /tmp: what the payload goes after.
const secretsDir = '/tmp/appdefender-demo-secrets';
mkdirSync(secretsDir, { recursive: true });
writeFileSync(
  `${secretsDir}/aws-credentials`,
  '[default]\naws_access_key_id = AKIADEMODEMODEMODEMO\naws_secret_access_key = not-a-real-secret\n',
);

exports.handler = async (event) => {
  const meta = await readImageMeta(event?.image ?? 'cat.png');
  return { statusCode: 200, body: JSON.stringify(meta) };
};
