// The two pages a newcomer sees before the App exists: the form that creates it on
// GitHub, and what to do once it is created. Server-rendered, no script needed: the
// form's "Update" button re-renders the page with the chosen name, org and URL; a
// small inline script does the same as you type.

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}input[type=text]{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}code{background:#f3f3f3;padding:0 .2rem}li{margin:.4rem 0}
.hint{color:#555;font-size:.9rem}`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

export interface SetupPageModel {
  name: string;
  org: string;
  webhookUrl: string;
  /** Set when WEBHOOK_PROXY_URL fixes the webhook URL (a smee.io channel). */
  webhookProxyUrl: string | undefined;
  /** Where the form posts: GitHub's "new App from manifest" page. */
  action: string;
  manifest: Record<string, unknown>;
}

export function renderSetupPage(model: SetupPageModel): string {
  const webhookField = model.webhookProxyUrl
    ? `<p>Webhooks go to the smee.io channel <code>${escapeHtml(model.webhookProxyUrl)}</code> (WEBHOOK_PROXY_URL), which <code>npm start</code> forwards to this App.</p>`
    : `<label for="webhook_url">Webhook URL (where GitHub can reach this App)</label>
<input type="text" id="webhook_url" name="webhook_url" value="${escapeHtml(model.webhookUrl)}">
<p class="hint">GitHub must reach it from the internet. For a laptop, set WEBHOOK_PROXY_URL to a channel from https://smee.io and restart.</p>`;
  return page(
    "Create the GitHub App — modal-github-runner",
    `<h1>Create the GitHub App</h1>
<p>modal-github-runner runs each queued GitHub Actions job labelled <code>modal</code> on a fresh runner in a Modal Sandbox. First, create its GitHub App.</p>
<form method="get" action="/" id="choices">
<label for="name">App name (unique on GitHub)</label>
<input type="text" id="name" name="name" value="${escapeHtml(model.name)}">
<label for="org">Organization (optional: create the App under this org)</label>
<input type="text" id="org" name="org" value="${escapeHtml(model.org)}" placeholder="your personal account">
${webhookField}
<button type="submit">Update</button>
</form>
<form method="post" action="${escapeHtml(model.action)}" id="create">
<input type="hidden" name="manifest" id="manifest" value="${escapeHtml(JSON.stringify(model.manifest))}">
<button type="submit">Create the GitHub App on GitHub</button>
</form>
<script>
// Keeps the manifest in step with the fields without a round trip.
const f = document.getElementById("choices"), c = document.getElementById("create"), m = document.getElementById("manifest");
f.addEventListener("input", () => {
  const manifest = JSON.parse(m.value), org = f.org.value.trim();
  manifest.name = f.name.value.trim();
  if (f.webhook_url) manifest.hook_attributes.url = f.webhook_url.value.trim();
  m.value = JSON.stringify(manifest);
  const action = new URL(c.action);
  action.pathname = (org ? "/organizations/" + encodeURIComponent(org) : "") + "/settings/apps/new";
  c.action = action.toString();
});
</script>`,
  );
}

export interface CreatedPageModel {
  htmlUrl: string;
  envFile: string;
  webhookUrl: string | undefined;
}

export function renderCreatedPage(model: CreatedPageModel): string {
  return page(
    "GitHub App created — modal-github-runner",
    `<h1>The GitHub App is created</h1>
<p>Its id, private key and webhook secret are in <code>${escapeHtml(model.envFile)}</code> (readable by you only). Next:</p>
<ol>
<li>Add a Modal token to <code>.env</code> or the environment: <code>MODAL_TOKEN_ID</code> and <code>MODAL_TOKEN_SECRET</code>, from <a href="https://modal.com/settings/tokens">modal.com/settings/tokens</a> (or run <code>modal token new</code>).</li>
<li>Stop this page (Ctrl-C) and run <code>npm start</code> again: it reads <code>.env</code> and serves webhooks${model.webhookUrl ? ` at <code>${escapeHtml(model.webhookUrl)}</code>` : ""}. <code>npm run doctor</code> checks every setting, permission and the Modal token.</li>
<li>Install the App on your org and choose its repositories: <a href="${escapeHtml(model.htmlUrl)}/installations/new">${escapeHtml(model.htmlUrl)}/installations/new</a>.</li>
<li>Optional: narrow what an org allows with a policy file <code>modal-runner.yml</code> in the org's <code>.github</code> repository (set the App's Single file permission to <code>.github/modal-runner.yml</code> on its settings page).</li>
<li>Label jobs to run on Modal: <code>runs-on: [self-hosted, modal]</code>.</li>
</ol>`,
  );
}

export function renderErrorPage(title: string, detail: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p><p><a href="/">Back to the setup page</a></p>`);
}
