// QKV Lab app — lessons: opening a lesson's live state, its steps, the strip above the labs, presentation
// mode, the interview drill and the export of a lesson's figures.
#pragma once

#include "app/app_state.h"

namespace qkv::app {

struct UiFrame;

// Loads assets/lessons/*.json into s.lessons (the UI texts of assets/i18n/ are loaded by main, core/i18n.h).
void load_lessons_into(AppState&);
int find_lesson(const AppState&, const std::string& id_or_number);  // −1 if none

// Opens lesson `index` at `step` (0 = its opening state): session, selection, tab, highlights.
void open_lesson(AppState&, int index, int step = 0);
void close_lesson(AppState&);
// PageDown / PageUp / → / ← (presentation): next or previous step, then lesson. F11: presentation mode.
void handle_lesson_keys(AppState&);
void DrawLessonStrip(AppState&);   // above the labs while a lesson is open
void DrawLessonsPanel(AppState&);  // the Lessons tab: search, language, progress, drill, the lesson text
// Drives an export: renders each step, asks the main loop for a screenshot, and advances.
void lesson_export_tick(AppState&, UiFrame&);
void start_lesson_export(AppState&, int index, const std::string& dir, bool quit_after);

}  // namespace qkv::app
