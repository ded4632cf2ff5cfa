// The one shape of an answer that can be "no": policy (serve this job? with which
// profile?), capacity (a cap slot?), parsing (a webhook, a CIDR, a GPU). `ok` tells
// which; a "no" always says why, in words a log line or a configuration problem can
// carry. Many-way outcomes (a dispatch's started / failed / not-queued …) keep a
// `kind` tag instead.
export type Result<Yes extends object = object, No extends object = object> = ({ ok: true } & Yes) | ({ ok: false; reason: string } & No);
