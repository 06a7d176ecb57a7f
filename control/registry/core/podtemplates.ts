// PodTemplates (core/v1): a named pod template, validated and defaulted like a workload's.
import type { PodTemplate } from 'kubernetes-types/core/v1.js';
import { FieldPath } from '../../../api/errors.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { CONTAINERS_DESCRIPTION, IMAGES_DESCRIPTION, column, containerCells, formatLabels, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';
import { applyPodTemplateDefaults, validatePodTemplateSpec } from './podspec.js';

export const podtemplates: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'PodTemplate',
  listKind: 'PodTemplateList',
  resource: 'podtemplates',
  singularName: 'podtemplate',
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.PodTemplate',
  hasStatusSubresource: false,
  tracksGeneration: false,

  applyDefaults(obj) {
    applyPodTemplateDefaults(as<PodTemplate>(obj).template);
  },
  validate(obj) {
    const pt = as<PodTemplate>(obj);
    return [
      ...validateObjectMeta(pt.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain),
      ...validatePodTemplateSpec(pt.template, FieldPath.root('template')),
    ];
  },
  validateUpdate(obj, old) {
    const pt = as<PodTemplate>(obj);
    return [
      ...validateObjectMetaUpdate(pt.metadata, as<PodTemplate>(old).metadata),
      ...validatePodTemplateSpec(pt.template, FieldPath.root('template')),
    ];
  },

  tableColumns: [
    nameColumn(),
    column('Containers', 'string', CONTAINERS_DESCRIPTION),
    column('Images', 'string', IMAGES_DESCRIPTION),
    column('Pod Labels', 'string', 'The labels for the pod template.'),
  ],
  // Upstream's pod template printer has no AGE column.
  tableRow(obj) {
    const pt = as<PodTemplate>(obj);
    const [names, images] = containerCells(pt.template?.spec?.containers);
    return [
      pt.metadata?.name ?? '', names, images,
      formatLabels(pt.template?.metadata?.labels),
    ];
  },
};

