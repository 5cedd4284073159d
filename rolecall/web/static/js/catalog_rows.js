// The catalog's compact form (GET /api/catalog?view=compact, or /api/catalog/sections/{id}?view=compact)
// turned into the model objects the picker (catalog_view.js) renders. No DOM, no fetches.

/**
 * A compact section → its models as objects ({id, name, context_window, ..., details, section,
 * section_label, starred, pinned}), starred first, or [] when the section was left out (rows: null).
 * `columns` comes with the response.
 */
export function modelsOf(columns, section) {
  if (!section.rows) return [];
  const starred = new Set(section.starred || []);
  const models = section.rows.map((row) => {
    const model = { section: section.id, section_label: section.label };
    columns.forEach((name, i) => { model[name] = row[i]; });
    const curated = model.curated === null ? null : section.curated[model.curated];
    model.details = {
      provider_list_at: model.from_list ? section.fetched_at : null,
      curated_id: curated?.[0] ?? null, curated_source: curated?.[1] ?? null, curated_as_of: curated?.[2] ?? null,
    };
    model.starred = starred.has(model.id);
    model.pinned = model.id === section.pinned_model;
    return model;
  });
  return models.sort((a, b) => Number(b.starred) - Number(a.starred));  // stable: the provider's order stays
}
