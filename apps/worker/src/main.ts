// placeholder until the worker process lands
export {};
