// Validate Prometheus Operator objects (ServiceMonitor, PodMonitor, ...) against the
// operator's published CRD schemas, offline: @kubernetes-models/prometheus-operator.
// Usage: NODE_PATH=.tools/node_modules node crd-validate.mjs < objects.json (a JSON list);
// prints "kind/name: error" for each invalid object and exits 1 on any.
// ES modules ignore NODE_PATH, so the package is imported from there by its file.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const v1 = await import(pathToFileURL(join(process.env.NODE_PATH,
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/index.js")).href);

const objects = JSON.parse(await new Promise((done) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => done(text));
}));
let failed = 0;
for (const object of objects) {
  const model = object.apiVersion === "monitoring.coreos.com/v1" ? v1[object.kind] : undefined;
  const name = `${object.kind}/${object.metadata?.name}`;
  if (model === undefined) {
    console.log(`${name}: no schema for ${object.apiVersion}`);
    failed += 1;
    continue;
  }
  try {
    new model(object).validate();
  } catch (error) {
    console.log(`${name}: ${error.message}`);
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
