// placeholder until the scheduler process lands
export {};
