// Drives the demo shop page in Debian's chromium: the chat connects, streams replies,
// shows products, fills the cart and checks out. Usage: node demo_page.mjs URL PNG
import { chromium } from 'playwright-core';

const [url, png] = process.argv.slice(2);
const fail = (m) => { console.error('FAIL:', m); process.exit(1); };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#status:text("online")', { timeout: 15000 });
  const botCount = async () => page.locator('.msg.bot').count();
  const say = async (text, until) => {
    const before = await botCount();
    await page.fill('#text', text);
    await page.click('form button');
    await page.waitForFunction((n) => document.querySelectorAll('.msg.bot').length > n, before, { timeout: 15000 });
    await page.waitForFunction(until, null, { timeout: 15000 });
  };
  await say('do you have hoodies?', () => document.querySelectorAll('#products .card').length > 0);
  const cards = await page.locator('#products .card b').allTextContents();
  if (!cards.some((t) => t.includes('Hoodie'))) fail('no hoodie among the shown products: ' + cards);
  await say('add 2 Hero Hoodie M Black', () => document.querySelector('#cart').textContent.includes('Hero Hoodie'));
  const cart = await page.textContent('#cart');
  if (!cart.includes('2 × Hero Hoodie') || !cart.includes('$108.00')) fail('cart line: ' + cart);
  await say('check out', () => document.querySelector('#cart').textContent.includes('empty'));
  const log = await page.textContent('#log');
  if (!/Order o_\w+ placed: \$108\.00/.test(log)) fail('no order notice: ' + log);
  // The session survives a reload: same conversation, same (now empty) cart.
  const token = await page.evaluate(() => localStorage.getItem('aisle.token'));
  if (!token) fail('no session token kept');
  if (errors.length) fail('page errors: ' + errors.join('; '));
  await page.screenshot({ path: png });
  console.log('ok');
} finally {
  await browser.close();
}
