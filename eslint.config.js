// Type-aware lint for the mistakes Prettier and tsc cannot see: a promise nobody
// awaits or catches (a lost rejection crashes Node or hides a failed repair), a
// promise passed where a plain callback is expected, and a switch over a union that
// forgets a case. `void promise` marks a deliberate fire-and-forget; such a promise
// must handle its own failure.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "packages/*/dist/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
    },
  },
);
