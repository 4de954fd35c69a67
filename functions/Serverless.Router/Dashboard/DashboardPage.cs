namespace Serverless.Router.Dashboard;

/// <summary>
/// The dashboard page: static HTML, CSS and JavaScript with hand-drawn SVG charts and nothing fetched from
/// elsewhere (no CDN), polling <c>/dashboard/data</c> every 2 s. The figures carry ids and data attributes
/// (<c>#total-requests</c>, <c>[data-lifetime-tenant]</c>, <c>[data-shard]</c>) so a test can read them from the DOM.
/// </summary>
internal static class DashboardPage
{
    public const string Html = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Serverless fleet</title>
<style>
  :root { --bg:#0f1419; --panel:#171e26; --line:#27313d; --text:#d9e1ea; --dim:#8694a3; --accent:#4fb3ff; --p99:#ff9f43; --ok:#3ecf8e; --bad:#ff5c5c; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--text); font:13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header { display:flex; align-items:baseline; gap:24px; padding:14px 20px; border-bottom:1px solid var(--line); }
  header h1 { font-size:17px; margin:0; font-weight:600; }
  header .status { color:var(--dim); margin-left:auto; }
  .kpis { display:flex; gap:12px; padding:14px 20px 0; flex-wrap:wrap; }
  .kpi { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:140px; }
  .kpi .v { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
  .kpi .l { color:var(--dim); font-size:11px; text-transform:uppercase; letter-spacing:.04em; }
  main { display:grid; grid-template-columns: repeat(2, minmax(0,1fr)); gap:14px; padding:14px 20px 20px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
  section h2 { font-size:12px; margin:0 0 10px; color:var(--dim); text-transform:uppercase; letter-spacing:.05em; font-weight:600; }
  table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:320px; }
  th { color:var(--dim); font-weight:500; font-size:11px; }
  td.n, th.n { text-align:right; }
  .bar { display:inline-block; height:8px; border-radius:4px; background:var(--accent); vertical-align:middle; }
  .track { display:inline-block; width:80px; height:8px; border-radius:4px; background:var(--line); margin-right:6px; vertical-align:middle; overflow:hidden; }
  .badge { padding:1px 6px; border-radius:9px; font-size:11px; }
  .Ready { background:#14392a; color:var(--ok); } .Rejected { background:#3d1b1b; color:var(--bad); } .Retired { background:#2a2f36; color:var(--dim); }
  .down { color:var(--bad); } .up { color:var(--ok); } .dim { color:var(--dim); }
  .legend span { margin-right:14px; } .sw { display:inline-block; width:10px; height:3px; vertical-align:middle; margin-right:4px; }
  svg text { fill:var(--dim); font-size:10px; }
  .wide { grid-column: 1 / -1; }
</style>
</head>
<body data-ready="0">
<header><h1>Serverless fleet</h1><span class="dim" id="window">last 5 min</span><span class="status" id="updated">loading…</span></header>
<div class="kpis">
  <div class="kpi"><div class="v" id="total-requests">–</div><div class="l">requests (window)</div></div>
  <div class="kpi"><div class="v" id="rps">–</div><div class="l">requests / s</div></div>
  <div class="kpi"><div class="v" id="p50">–</div><div class="l">p50 ms</div></div>
  <div class="kpi"><div class="v" id="p99">–</div><div class="l">p99 ms</div></div>
  <div class="kpi"><div class="v" id="errors">–</div><div class="l">5xx (window)</div></div>
  <div class="kpi"><div class="v" id="rejected">–</div><div class="l">4xx (window)</div></div>
  <div class="kpi"><div class="v" id="shard-count">–</div><div class="l">live shards</div></div>
</div>
<main>
  <section><h2>Load: shards × tenants (requests in window)</h2><div id="heat"></div></section>
  <section><h2>Latency p50 / p99 (ms) and requests per 5 s</h2><div id="latency"></div>
    <div class="legend dim"><span><i class="sw" style="background:var(--accent)"></i>p50</span><span><i class="sw" style="background:var(--p99)"></i>p99</span><span><i class="sw" style="background:#2c3a48;height:8px"></i>requests</span></div></section>
  <section class="wide"><h2>Shards: session cache</h2><table id="shards"><thead><tr><th>shard</th><th>pool</th><th>state</th><th class="n">requests</th><th>cache hit rate</th><th>resident / budget</th><th class="n">sessions</th><th class="n">loads</th><th class="n">mean load ms</th><th class="n">evictions</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Hottest models and their replicas</h2><table id="hot"><thead><tr><th>tenant / model</th><th class="n">requests</th><th class="n">5xx</th><th>served by</th><th>replicas</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Requests per tenant since the router started</h2><table id="lifetime"><thead><tr><th>tenant</th><th class="n">requests</th><th class="n">2xx</th><th></th></tr></thead><tbody></tbody></table><p class="dim" id="tenants-more"></p></section>
  <section class="wide"><h2>Recent publishes and rejections</h2><table id="publishes"><thead><tr><th>when</th><th>tenant / model</th><th>version</th><th>state</th><th class="n">size</th><th>reason</th></tr></thead><tbody></tbody></table><p class="dim" id="publishes-more"></p></section>
  <section class="wide"><h2>Registry: models and versions by tenant</h2><p class="dim" id="registry-note">counting…</p><table id="registry"><thead><tr><th>tenant</th><th class="n">models</th><th class="n">Ready</th><th class="n">Rejected</th><th class="n">Retired</th></tr></thead><tbody></tbody></table><p class="dim" id="registry-more"></p></section>
</main>
<script>
(function () {
  const key = new URLSearchParams(location.search).get('key');
  const $ = id => document.getElementById(id);
  const esc = s => String(s == null ? '' : s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
  const fmt = n => Number(n).toLocaleString('en-US');
  const bytes = b => { if (!b) return '0 B'; const u = ['B','KiB','MiB','GiB','TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; } return (i ? b.toFixed(1) : b) + ' ' + u[i]; };
  const ago = t => { const s = Math.max(0, Math.round((Date.now() - new Date(t)) / 1000)); return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : s < 172800 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' d ago'; };

  function heat(d) {
    const shards = d.shards.map(s => s.id), tenants = d.tenants;
    if (!shards.length || !tenants.length) return '<p class="dim">no requests yet</p>';
    const cell = new Map(d.heat.map(c => [c.shard + '|' + c.tenant, c.requests]));
    const max = Math.max(1, ...d.heat.map(c => c.requests));
    const cw = Math.max(34, Math.min(90, Math.floor(460 / tenants.length))), ch = 22, left = 70, top = 18;
    let svg = `<svg width="${left + cw * tenants.length}" height="${top + ch * shards.length + 4}" role="img" aria-label="heat map">`;
    tenants.forEach((t, j) => svg += `<text x="${left + j * cw + cw / 2}" y="12" text-anchor="middle">${esc(t.length > 10 ? t.slice(0, 9) + '…' : t)}</text>`);
    shards.forEach((s, i) => {
      svg += `<text x="0" y="${top + i * ch + 15}">${esc(s)}</text>`;
      tenants.forEach((t, j) => {
        const n = cell.get(s + '|' + t) || 0, a = n ? 0.15 + 0.85 * n / max : 0.04;
        svg += `<rect data-heat="${esc(s + '|' + t)}" x="${left + j * cw + 1}" y="${top + i * ch + 1}" width="${cw - 2}" height="${ch - 2}" rx="3" fill="rgba(79,179,255,${a.toFixed(3)})"><title>${esc(s)} × ${esc(t)}: ${n}</title></rect>`;
        if (n) svg += `<text x="${left + j * cw + cw / 2}" y="${top + i * ch + 15}" text-anchor="middle" style="fill:#fff">${n}</text>`;
      });
    });
    return svg + '</svg>';
  }

  function latency(d) {
    const pts = d.series, w = 560, h = 170, l = 40, b = 18, t = 8;
    if (!pts.length) return '';
    const maxMs = Math.max(1, ...pts.map(p => p.p99Ms)), maxN = Math.max(1, ...pts.map(p => p.requests));
    const x = i => l + (w - l - 4) * (pts.length === 1 ? 1 : i / (pts.length - 1));
    const y = v => t + (h - t - b) * (1 - v / maxMs);
    const bw = Math.max(1, (w - l) / pts.length - 1);
    let svg = `<svg width="100%" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="latency">`;
    for (let k = 0; k <= 4; k++) { const v = maxMs * k / 4, yy = y(v); svg += `<line x1="${l}" x2="${w}" y1="${yy}" y2="${yy}" stroke="#27313d"/><text x="${l - 4}" y="${yy + 3}" text-anchor="end">${v < 10 ? v.toFixed(1) : Math.round(v)}</text>`; }
    pts.forEach((p, i) => { const bh = (h - t - b) * 0.45 * p.requests / maxN; if (bh > 0) svg += `<rect x="${x(i) - bw / 2}" y="${h - b - bh}" width="${bw}" height="${bh}" fill="#2c3a48"/>`; });
    const line = (f, c) => { const seg = pts.map((p, i) => p.requests ? `${x(i).toFixed(1)},${y(f(p)).toFixed(1)}` : null).filter(Boolean); return seg.length ? `<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${seg.join(' ')}"/>` : ''; };
    svg += line(p => p.p99Ms, 'var(--p99)') + line(p => p.p50Ms, 'var(--accent)');
    pts.forEach((p, i) => { if (p.requests) svg += `<circle cx="${x(i).toFixed(1)}" cy="${y(p.p99Ms).toFixed(1)}" r="2.5" fill="var(--p99)"/><circle cx="${x(i).toFixed(1)}" cy="${y(p.p50Ms).toFixed(1)}" r="2.5" fill="var(--accent)"/>`; });
    svg += `<text x="${l}" y="${h - 4}">−${d.windowMinutes} min</text><text x="${w - 4}" y="${h - 4}" text-anchor="end">now</text>`;
    return svg + '</svg>';
  }

  function render(d) {
    $('total-requests').textContent = fmt(d.window.requests);
    $('rps').textContent = d.window.requestsPerSecond.toFixed(2);
    $('p50').textContent = d.window.p50Ms.toFixed(2);
    $('p99').textContent = d.window.p99Ms.toFixed(2);
    $('errors').textContent = fmt(d.window.errors);
    $('rejected').textContent = fmt(d.window.rejected);
    $('shard-count').textContent = d.shards.filter(s => s.live).length + ' / ' + d.shards.length;
    $('window').textContent = 'last ' + d.windowMinutes + ' min';
    $('heat').innerHTML = heat(d);
    $('latency').innerHTML = latency(d);
    $('shards').tBodies[0].innerHTML = d.shards.map(s => {
      const st = s.stats, rate = s.hitRate == null ? null : s.hitRate;
      const res = st ? st.residentBytes : 0, budget = st ? st.cacheBytes : 0;
      return `<tr data-shard="${esc(s.id)}"><td>${esc(s.id)}</td><td>${esc(s.pool)}</td><td class="${s.live ? 'up' : 'down'}">${s.live ? esc(s.state) : 'down'}${s.error ? ' <span class="dim">(' + esc(s.error) + ')</span>' : ''}</td>` +
        `<td class="n" data-requests="${s.requests}">${fmt(s.requests)}</td>` +
        `<td data-hit-rate="${rate == null ? '' : rate}"><span class="track"><span class="bar" style="width:${rate == null ? 0 : Math.round(rate * 100)}%;background:var(--ok)"></span></span>${rate == null ? '–' : (rate * 100).toFixed(1) + ' %'}</td>` +
        `<td data-resident="${res}"><span class="track"><span class="bar" style="width:${budget ? Math.min(100, Math.round(100 * res / budget)) : 0}%"></span></span>${bytes(res)} / ${bytes(budget)}</td>` +
        `<td class="n">${st ? st.sessions : '–'}</td><td class="n">${st ? fmt(st.loads) : '–'}</td><td class="n">${st ? st.meanLoadMs.toFixed(1) : '–'}</td><td class="n">${st ? fmt(st.evictions) : '–'}</td></tr>`;
    }).join('');
    const maxHot = Math.max(1, ...d.hotModels.map(m => m.requests));
    $('hot').tBodies[0].innerHTML = d.hotModels.length ? d.hotModels.map(m =>
      `<tr data-model="${esc(m.tenant + '/' + m.model)}"><td>${esc(m.tenant)} / <b>${esc(m.model)}</b></td><td class="n"><span class="bar" style="width:${Math.round(50 * m.requests / maxHot)}px"></span> ${fmt(m.requests)}</td><td class="n">${fmt(m.errors)}</td><td>${esc(m.servedBy.join(', '))}</td><td title="${esc(m.reason)}">${esc(m.replicas.join(', ') || '–')}</td></tr>`).join('')
      : '<tr><td colspan="5" class="dim">no requests in the window</td></tr>';
    $('lifetime').tBodies[0].innerHTML = d.lifetime.length ? d.lifetime.map(t =>
      `<tr><td>${esc(t.tenant)}</td><td class="n" data-lifetime-tenant="${esc(t.tenant)}">${t.requests}</td><td class="n">${t.ok}</td><td></td></tr>`).join('')
      : '<tr><td colspan="4" class="dim">none yet</td></tr>';
    $('publishes').tBodies[0].innerHTML = d.publishes.length ? d.publishes.map(p =>
      `<tr><td class="dim">${ago(p.publishedAt)}</td><td>${esc(p.tenant)} / ${esc(p.model)}</td><td>${esc(p.version)}</td><td><span class="badge ${esc(p.state)}">${esc(p.state)}</span></td><td class="n">${bytes(p.sizeBytes)}</td><td title="${esc(p.error)}">${esc(p.error || '')}</td></tr>`).join('')
      : '<tr><td colspan="6" class="dim">no publishes in the last 7 days</td></tr>';
    // Every list is bounded by the router; what it leaves out is a count, said here.
    $('publishes-more').textContent = d.morePublishes ? 'and ' + fmt(d.morePublishes) + ' more in the last 7 days' : '';
    $('publishes-more').dataset.more = d.morePublishes || 0;
    $('tenants-more').textContent = d.moreTenants ? 'and ' + fmt(d.moreTenants) + ' more tenants' : '';
    const r = d.registry;
    if (r) {
      $('registry-note').innerHTML = `<span id="registry-models" data-models="${r.models}">${fmt(r.models)}</span> models, ${fmt(r.versions)} versions: ` +
        `${fmt(r.ready)} Ready, ${fmt(r.rejected)} Rejected, ${fmt(r.retired)} Retired — counted ${r.countedAt ? ago(r.countedAt) : '–'} in ${r.passSeconds.toFixed(1)} s` +
        (r.capped ? ` <b>(capped: only the first ${fmt(r.rowsRead)} rows in key order were counted; figures are lower bounds)</b>` : ' (exact)');
      $('registry').tBodies[0].innerHTML = r.tenants.map(t =>
        `<tr data-registry-tenant="${esc(t.tenant)}"><td>${esc(t.tenant)}</td><td class="n">${fmt(t.models)}</td><td class="n">${fmt(t.ready)}</td><td class="n">${fmt(t.rejected)}</td><td class="n">${fmt(t.retired)}</td></tr>`).join('');
      $('registry-more').textContent = r.moreTenants ? 'and ' + fmt(r.moreTenants) + ' more tenants' : '';
    }
    $('updated').textContent = 'updated ' + new Date(d.generatedAt).toLocaleTimeString('en-GB');
    $('updated').dataset.generatedAt = d.generatedAt;
    document.body.dataset.ready = '1';
  }

  async function poll() {
    try {
      const r = await fetch('/dashboard/data', { headers: key ? { 'x-admin-key': key } : {}, cache: 'no-store', credentials: 'same-origin' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      render(await r.json());
    } catch (e) {
      $('updated').textContent = 'refresh failed: ' + e.message;
    }
  }
  poll();
  setInterval(poll, 2000);
})();
</script>
</body>
</html>
""";
}
