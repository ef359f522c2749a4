// kubernetes-models and @kubernetes-models/* are ESM-only (their exports name only "import"):
// resolved with that condition (jest-resolver.cjs) and transpiled like the sources.
module.exports = {
  ...require("../../jest.preset.cjs"),
  resolver: require.resolve("./jest-resolver.cjs"),
  transformIgnorePatterns: [
    "/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(kubernetes-models|@kubernetes-models|is-cidr|cidr-regex|ip-regex)/)",
  ],
};
