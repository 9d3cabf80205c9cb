// The header's "Report" action: the compliance report (GET api/report) of the namespaces
// shown, downloaded as a file. The form works without script (the browser follows it); with
// script a refusal (a period beyond Prometheus' retention) is said beside the button instead
// of replacing the page.

import { $ } from './dom.js';
import { errorText, unreachableText } from './api.mjs';

export function createReport({ fetch } = {}) {
  const form = $('#report-form');
  const status = $('#report-status');
  if (!form || !status) return;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const url = new URL(form.getAttribute('action'), document.baseURI);
    for (const [k, v] of new FormData(form)) url.searchParams.append(k, v);
    status.textContent = 'Preparing the report…';
    status.dataset.state = 'busy';
    try {
      const res = await (fetch || globalThis.fetch)(url.toString(), { cache: 'no-store' });
      if (!res.ok) {
        status.textContent = errorText(res.status, await res.text());
        status.dataset.state = 'error';
        return;
      }
      const blob = await res.blob();
      const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'meshlock-report.json';
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      status.textContent = `Downloaded ${name}`;
      status.dataset.state = 'done';
    } catch (err) {
      status.textContent = unreachableText(err);
      status.dataset.state = 'error';
    }
  });
}
