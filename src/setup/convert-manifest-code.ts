// The last step of GitHub's manifest flow: the code GitHub hands back (valid for one
// hour, once) is exchanged for the new App's id and credentials. The call needs no
// authentication: the code is the credential.
import { ProbotOctokit } from "probot";

export interface CreatedApp {
  id: number;
  slug: string;
  htmlUrl: string;
  pem: string;
  webhookSecret: string;
  clientId: string;
  clientSecret: string;
}

export async function convertManifestCode(code: string, apiUrl: string): Promise<CreatedApp> {
  const octokit = new ProbotOctokit({ baseUrl: apiUrl });
  const { data } = await octokit.request("POST /app-manifests/{code}/conversions", { code });
  return {
    id: data.id,
    slug: data.slug ?? "",
    htmlUrl: data.html_url,
    pem: data.pem,
    webhookSecret: data.webhook_secret ?? "",
    clientId: data.client_id,
    clientSecret: data.client_secret,
  };
}
