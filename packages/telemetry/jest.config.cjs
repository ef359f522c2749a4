// Per-package jest config: all settings live in the shared root preset.
module.exports = { ...require("../../jest.preset.cjs") };
