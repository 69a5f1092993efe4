/** The search attributes drydock sets, shared by workflows and the API's client. */
import { defineSearchAttributeKey } from '@temporalio/common';

export const SEARCH = {
  slug: defineSearchAttributeKey('InstanceSlug', 'KEYWORD'),
  mode: defineSearchAttributeKey('UpgradeMode', 'KEYWORD'),
  tag: defineSearchAttributeKey('ImageTag', 'KEYWORD'),
  status: defineSearchAttributeKey('UpgradeStatus', 'KEYWORD'),
};
