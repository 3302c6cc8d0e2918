// Minimal types for the parts of cli-progress 3 we use (the package ships none; avoids a new @types dependency).
declare module "cli-progress" {
  interface Bar { update(value: number, payload?: Record<string, unknown>): void; stop(): void; increment(delta?: number, payload?: Record<string, unknown>): void }
  class MultiBar {
    constructor(options: Record<string, unknown>, preset?: unknown);
    create(total: number, start: number, payload?: Record<string, unknown>): Bar;
    stop(): void;
  }
  class SingleBar implements Bar {
    constructor(options: Record<string, unknown>, preset?: unknown);
    start(total: number, start: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    increment(delta?: number, payload?: Record<string, unknown>): void;
    stop(): void;
  }
  const Presets: { shades_classic: unknown; shades_grey: unknown; rect: unknown; legacy: unknown };
  const _default: { MultiBar: typeof MultiBar; SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default _default;
}
