// placeholder until the api process lands
export {};
