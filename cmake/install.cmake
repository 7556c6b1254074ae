# cmake --install: the command, the presets and model configs, the plot
# scripts, and a CMake package for programs that embed the simulator:
#
#   find_package(npusim REQUIRED)
#   target_link_libraries(app PRIVATE npusim::npusim)
#
# npusim::npusim brings every library (its registries linked whole), the
# headers (#include "sim/simulator.h") and the sc_main SystemC asks for.
include(CMakePackageConfigHelpers)

set(NPUSIM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/npusim)
set(NPUSIM_DATA_DIR ${CMAKE_INSTALL_DATADIR}/npusim)

add_library(npusim_embed INTERFACE)
# (sc_main linked whole: only libsystemc, after it on the line, refers to it.)
target_link_libraries(npusim_embed INTERFACE npusim_sim "$<LINK_LIBRARY:WHOLE_ARCHIVE,npusim_sc_main>")
set_target_properties(npusim_embed PROPERTIES EXPORT_NAME npusim)
add_library(npusim::npusim ALIAS npusim_embed)

install(TARGETS npusim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS npusim_embed npusim_sc_main npusim_sim npusim_arch npusim_arch_cost npusim_memory
                npusim_compiler npusim_common npusim_proto npusim_systemc
        EXPORT npusimTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}/npusim
        INCLUDES DESTINATION ${NPUSIM_INCLUDE_DIR})
install(EXPORT npusimTargets NAMESPACE npusim:: DESTINATION ${NPUSIM_CMAKE_DIR})

# Headers, with the generated schema headers and version.h beside them.
foreach(dir common arch memory compiler sim)
  install(DIRECTORY ${dir}/ DESTINATION ${NPUSIM_INCLUDE_DIR}/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.proto")
endforeach()
install(DIRECTORY ${PROJECT_BINARY_DIR}/proto/ DESTINATION ${NPUSIM_INCLUDE_DIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/generated/common/version.h
        DESTINATION ${NPUSIM_INCLUDE_DIR}/common)

configure_package_config_file(cmake/npusimConfig.cmake.in
  ${PROJECT_BINARY_DIR}/npusimConfig.cmake INSTALL_DESTINATION ${NPUSIM_CMAKE_DIR}
  PATH_VARS NPUSIM_DATA_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/npusimConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/npusimConfig.cmake
              ${PROJECT_BINARY_DIR}/npusimConfigVersion.cmake
        DESTINATION ${NPUSIM_CMAKE_DIR})

# Presets, model configs and the memory-wall walkthrough's inputs.
install(DIRECTORY examples/hw examples/models examples/memory-wall DESTINATION ${NPUSIM_DATA_DIR})
install(PROGRAMS scripts/npusim_plot.py scripts/plot_compare.py scripts/plot_roofline.py
                 scripts/plot_sweep.py scripts/plot_timeline.py scripts/export_onnx.py
        DESTINATION ${NPUSIM_DATA_DIR}/scripts)
install(FILES LICENSE CITATION.cff README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Python package, where Debian's python3 finds packages under the prefix
# (/usr/local/lib/python3/dist-packages; elsewhere set PYTHONPATH).
if(NPUSIM_PYTHON)
  set(NPUSIM_PYTHON_DIR ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages/npusim)
  install(TARGETS npusim_python LIBRARY DESTINATION ${NPUSIM_PYTHON_DIR})
  install(FILES sim/python/npusim/__init__.py DESTINATION ${NPUSIM_PYTHON_DIR})
endif()
