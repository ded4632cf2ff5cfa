// Modal builds images from a registry image plus Dockerfile lines; it has no build
// context. A runner Dockerfile is therefore read as: FROM <image>, then the rest.

export interface RunnerImageDefinition {
  /** Registry reference of the base image (the FROM line). */
  baseImage: string;
  /** Every instruction after FROM, one string per instruction (continuations joined). */
  commands: string[];
}

export function parseDockerfile(text: string, source: string): RunnerImageDefinition {
  const instructions = text
    .replace(/\\\r?\n/g, " ") // join line continuations
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const [first, ...rest] = instructions;
  const from = first ? /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+\S+)?$/i.exec(first) : null;
  if (!from) throw new Error(`${source}: the first instruction must be FROM <image>`);
  if (rest.some((line) => /^FROM\s/i.test(line))) {
    throw new Error(`${source}: multi-stage builds are not supported; use a single FROM`);
  }
  const copy = rest.find((line) => /^(COPY|ADD)\s/i.test(line) && !/^COPY\s+--from=/i.test(line));
  if (copy) {
    throw new Error(`${source}: "${copy.split(/\s/)[0]}" from a build context is not supported by Modal images; use RUN (curl, apt-get) or a pre-built base image`);
  }
  return { baseImage: from[1]!, commands: rest };
}
