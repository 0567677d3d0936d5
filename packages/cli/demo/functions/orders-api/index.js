// A well-behaved function: pure computation plus a cache under the one /tmp path its policy group
// allows. Under AppDefender it produces no events at all.
const { mkdirSync, writeFileSync } = require('node:fs');

const cacheDir = '/tmp/appdefender-demo-cache';

exports.handler = async (event) => {
  const items = Array.isArray(event?.items) ? event.items : [{ sku: 'tea', price: 4.5, quantity: 2 }];
  const total = items.reduce((sum, item) => sum + item.price * item.quantity, 0);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${cacheDir}/last-order.json`, JSON.stringify({ total, at: Date.now() }));
  return { statusCode: 200, body: JSON.stringify({ total }) };
};
