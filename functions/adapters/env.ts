/** Reads a required environment variable once at init; fails fast naming the variable. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`environment variable ${name} is not set; the stack sets it on the function (infra/)`);
  }
  return value;
}
