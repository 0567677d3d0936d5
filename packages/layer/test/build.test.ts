/**
 * The layer build: the tree is exactly LAYER_TREE with the right modes, the zips hold the same files
 * with their unix modes, and stay under the size budget.
 */
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { buildAgent } from '../../agent/build.mjs';
// @ts-expect-error build.mjs is plain JavaScript without type declarations
import { buildLayer, MAX_ZIP_BYTES } from '../build.mjs';
import { LAYER_TREE, layerArn, layerZipName } from '../src/index.js';
import { freshDir } from './harness.js';

interface ZipEntry {
  name: string;
  mode: number;
}

/** Lists a zip's central directory (name and unix mode of each entry). */
function zipEntries(path: string): ZipEntry[] {
  const data = fs.readFileSync(path);
  const eocd = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = data.readUInt16LE(eocd + 10);
  let offset = data.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let index = 0; index < count; index++) {
    const nameLength = data.readUInt16LE(offset + 28);
    const extraLength = data.readUInt16LE(offset + 30);
    const commentLength = data.readUInt16LE(offset + 32);
    const externalAttributes = data.readUInt32LE(offset + 38);
    entries.push({
      name: data.subarray(offset + 46, offset + 46 + nameLength).toString('utf8'),
      mode: (externalAttributes >>> 16) & 0o777,
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

function listTree(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

let outDir: string;
let built: { layerDir: string; zips: Array<{ architecture: string; path: string; bytes: number }> };

beforeAll(async () => {
  outDir = freshDir('layer-build-test');
  const agentBundle = await buildAgent({ outfile: join(outDir, 'agent.cjs') });
  built = await buildLayer({ outDir, agentBundle });
});

describe('layer build', () => {
  it('produces exactly the documented tree, with executables executable', () => {
    expect(listTree(built.layerDir)).toEqual(LAYER_TREE.map((file) => file.path).sort());
    for (const file of LAYER_TREE) {
      const mode = fs.statSync(join(built.layerDir, file.path)).mode & 0o777;
      expect({ path: file.path, mode }).toEqual({ path: file.path, mode: file.executable ? 0o755 : 0o644 });
    }
    const version = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
    expect(fs.readFileSync(join(built.layerDir, 'appdefender', 'VERSION'), 'utf8')).toBe(`${version}\n`);
  });

  it('zips the same files per architecture, keeping modes, under the size budget', () => {
    expect(built.zips.map((zip) => zip.path)).toEqual([
      join(outDir, layerZipName('x86_64')),
      join(outDir, layerZipName('arm64')),
    ]);
    for (const zip of built.zips) {
      expect(zip.bytes).toBeLessThan(MAX_ZIP_BYTES);
      expect(zipEntries(zip.path)).toEqual(
        LAYER_TREE.map((file) => ({ name: file.path, mode: file.executable ? 0o755 : 0o644 })).sort((a, b) =>
          a.name.localeCompare(b.name),
        ),
      );
    }
  });

  it('builds byte-identical zips from the same inputs', async () => {
    const again = await buildLayer({
      outDir: freshDir('layer-build-again'),
      agentBundle: join(outDir, 'agent.cjs'),
    });
    expect(fs.readFileSync(again.zips[0].path).equals(fs.readFileSync(built.zips[0]!.path))).toBe(true);
  });

  it('refuses to build without the agent bundle, saying how to get it', async () => {
    await expect(
      buildLayer({ outDir: freshDir('no-agent'), agentBundle: '/nonexistent/agent.cjs' }),
    ).rejects.toThrow(/npm run build -w @appdefender\/agent/);
  });
});

describe('layerArn', () => {
  it('names the arm64 layer with its suffix', () => {
    expect(
      layerArn({ region: 'us-east-1', accountId: '201476247173', version: 5, architecture: 'x86_64' }),
    ).toBe('arn:aws:lambda:us-east-1:201476247173:layer:Extrinsec-Appdefender:5');
    expect(
      layerArn({ region: 'eu-west-1', accountId: '201476247173', version: 2, architecture: 'arm64' }),
    ).toBe('arn:aws:lambda:eu-west-1:201476247173:layer:Extrinsec-Appdefender-arm64:2');
  });
});
