/**
 * onnxruntime-node's native library carries Microsoft telemetry (1DS): unless ORT_DISABLE_TELEMETRY is
 * set when the runtime's environment is created, each process writes a mat-debug-<pid>.log to the temp
 * folder and keeps a device id and a queue of events (model file name, errors, system metrics) under
 * the user's cache folder. onnxruntime-node 1.30 exposes no JS API for it (ort.env has no telemetry
 * switch), so the variable is set in every process and thread we start, before the runtime loads.
 */
export function disableOrtTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env.ORT_DISABLE_TELEMETRY = "1";
}

disableOrtTelemetry();
