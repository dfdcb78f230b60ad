import { createModelServer } from '../dev/model-server/server';
async function main() {
  const s = await createModelServer({ instant: true });
  s.configure({ holdUntilInFlight: 3 });
  const body = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
  const call = (i: number) => fetch(`${s.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body }).then(async (r) => console.log(i, r.status, (await r.text()).slice(0, 80)));
  const a = [call(1), call(2)];
  await new Promise((r) => setTimeout(r, 300));
  console.log('stats', s.stats());
  const t = setTimeout(() => { console.log('stuck', s.stats()); process.exit(1); }, 3000);
  await Promise.all([...a, call(3)]);
  clearTimeout(t);
  await s.close();
}
main();
