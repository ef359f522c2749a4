// @ensemble/engine — the run engine shared by the api, scheduler and worker apps: start, advance, claim, complete, cancel.
export {};
