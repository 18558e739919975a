/**
 * The chapi CrossGuard policy pack (`pulumi preview --policy-pack policy`, after
 * `npm run policy:build`): the rules of `./rules.ts` wired into Pulumi's policy API.
 */
import { PolicyPack, type ResourceValidationPolicy, type StackValidationPolicy } from '@pulumi/policy';
import { rules, stackRules } from './rules.js';

const resourcePolicies: ResourceValidationPolicy[] = rules.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: rule.enforcementLevel,
  validateResource: (args, reportViolation) => {
    if (!rule.types.includes(args.type)) return;
    for (const violation of rule.check(args.type, args.props as Record<string, unknown>)) reportViolation(violation);
  },
}));

const stackPolicies: StackValidationPolicy[] = stackRules.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: rule.enforcementLevel,
  validateStack: (args, reportViolation) => {
    const resources = args.resources.map((resource) => ({
      type: resource.type,
      name: resource.name,
      props: resource.props as Record<string, unknown>,
    }));
    for (const violation of rule.check(resources)) reportViolation(violation);
  },
}));

new PolicyPack('chapi', { policies: [...resourcePolicies, ...stackPolicies] });
