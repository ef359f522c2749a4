// Resolves the ESM-only schema packages by their "import" exports; everything else as jest does.
const ESM_ONLY = /^(kubernetes-models|@kubernetes-models\/|is-cidr$|cidr-regex$|ip-regex$)/;
module.exports = (request, options) =>
  options.defaultResolver(
    request,
    ESM_ONLY.test(request) ? { ...options, conditions: ["import", "node", "default"] } : options,
  );
