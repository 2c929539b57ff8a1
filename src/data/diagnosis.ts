// The diagnoses dermosynth conditions on, in the order of the label map's lesion classes.

/** ISIC-2017's three diagnoses. Index k is lesion class k + 1 in the label map (0 is skin). */
export const ISIC2017_CLASSES = ['nevus', 'melanoma', 'seborrheic_keratosis'] as const;
export type Isic2017Class = (typeof ISIC2017_CLASSES)[number];

/** Short display names for tables and plots. */
export const CLASS_ABBREVIATIONS: Record<string, string> = {
  nevus: 'NV',
  melanoma: 'MEL',
  seborrheic_keratosis: 'SK',
};

export function classAbbreviation(name: string): string {
  return CLASS_ABBREVIATIONS[name] ?? name;
}
